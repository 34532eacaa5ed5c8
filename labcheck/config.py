"""lab.yaml: loaded once, validated into typed objects, errors as one French line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from labcheck.errors import ConfigError

SERVER_NAMES = ("A", "B")


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise PydanticCustomError("labcheck_port", "entier entre 1 et 65535 attendu")
    return value


def _host(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise PydanticCustomError(
            "labcheck_host", "adresse IPv4 ou nom d'hôte attendu (ex. 172.20.10.2)"
        )
    return value.strip()


def _control(value: Any) -> Any:
    if value in ("local", "manual") or isinstance(value, dict):
        return value
    raise PydanticCustomError(
        "labcheck_control", "local, manual, ou {stop: commande, start: commande} attendu"
    )


Port = Annotated[int, BeforeValidator(_port)]
Host = Annotated[str, BeforeValidator(_host)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(_Model):
    name: str
    code: str
    initials: str


class Commands(_Model):
    """Shell commands that stop and start a server on its own machine (ssh, say)."""

    stop: str = Field(min_length=1)
    start: str = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0, le=600)


# local: labcheck runs it here; manual: a person stops and starts it; Commands: a script.
Control = Annotated[Literal["local", "manual"] | Commands, BeforeValidator(_control)]


class Server(_Model):
    members: list[str] = Field(min_length=1)
    host: Host
    port: Port
    app: Path
    control: Control | None = None  # default: the lab's


class Nginx(_Model):
    host: Host
    port: Port
    config: Path
    control: Control | None = None


class Checks(_Model):
    requests: int = Field(default=20, ge=4, le=1000)
    balance_tolerance: float = Field(default=0.1, ge=0, le=0.5)
    stop_grace: float = Field(default=3.0, gt=0, le=60)
    start_timeout: float = Field(default=15.0, gt=0, le=300)
    recovery_timeout: float = Field(default=15.0, gt=0, le=300)
    manual_timeout: float = Field(default=120.0, gt=0, le=3600)  # a person stopping A


class Lab(_Model):
    course: str
    lab: str
    team: list[Member] = Field(min_length=1)
    servers: dict[str, Server]
    nginx: Nginx
    control: Control = "local"
    checks: Checks = Checks()
    root: Path = Field(default=Path("."), exclude=True)
    source: str = Field(default="lab.yaml", exclude=True)

    def path(self, relative: Path) -> Path:
        """A path from lab.yaml, resolved against the lab.yaml's folder."""
        return (self.root / relative).resolve()

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    def members_of(self, server: str) -> list[Member]:
        by_initials = {m.initials: m for m in self.team}
        return [by_initials[i] for i in self.servers[server].members]

    def control_of(self, name: str) -> Literal["local", "manual"] | Commands:
        """How A, B or nginx is run: its own ``control``, else the lab's."""
        own = self.nginx.control if name == "nginx" else self.servers[name].control
        return own if own is not None else self.control

    @property
    def remote(self) -> bool:
        """The team's own machines, at their declared addresses (not run by labcheck)."""
        return self.control_of("A") != "local"

    def declared_url(self, name: str) -> str:
        target = self.nginx if name == "nginx" else self.servers[name]
        return f"http://{target.host}:{target.port}/"


_MESSAGES = {
    "missing": "clé obligatoire manquante",
    "extra_forbidden": "clé inconnue (vérifiez l'orthographe)",
    "string_type": "texte attendu",
    "int_type": "entier attendu",
    "int_parsing": "entier attendu",
    "int_from_float": "entier attendu",
    "float_type": "nombre attendu",
    "float_parsing": "nombre attendu",
    "path_type": "chemin de fichier attendu",
    "list_type": "liste attendue (ex. [SG])",
    "dict_type": "table de clés attendue",
    "model_type": "table de clés attendue",
    "literal_error": "valeur non permise",
    "too_short": "ne doit pas être vide",
}


def _literal_branch(error: Any) -> bool:
    return any(str(part).startswith("literal[") for part in error["loc"])


def _describe(error: Any) -> tuple[str, str]:
    where = ".".join(str(part) for part in error["loc"] if part not in ("[key]", "Commands"))
    kind = error["type"]
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        limits = {k: v for k, v in error.get("ctx", {}).items()}
        message = f"valeur hors limites ({', '.join(f'{k} {v}' for k, v in limits.items())})"
    elif kind == "literal_error":
        message = f"valeur attendue : {error['ctx']['expected'].replace(' or ', ' ou ')}"
    else:
        own = kind.startswith("labcheck_")  # our own types carry a French message
        message = error["msg"] if own else _MESSAGES.get(kind, "valeur invalide")
    if (
        kind not in ("missing", "extra_forbidden")
        and error.get("input") is not None
        and not isinstance(error["input"], dict | list)
    ):
        message += f", reçu « {error['input']} »"
    return where, message


_YAML_PROBLEMS = {
    "\\t": "tabulation interdite en YAML, indentez avec des espaces",
    "stream end": "fin de fichier inattendue (crochet, accolade ou guillemet non fermé ?)",
    "mapping values are not allowed": "« : » inattendu (mettez la valeur entre guillemets)",
    "expected ':'": "« : » attendu après la clé",
    "block end": "indentation incohérente",
    "expected ',' or": "virgule ou crochet fermant attendu",
    "duplicate": "clé en double",
}


def _yaml_problem(problem: str | None) -> str:
    for needle, french in _YAML_PROBLEMS.items():
        if needle in (problem or ""):
            return french
    return "syntaxe invalide (vérifiez l'indentation, les guillemets et les crochets)"


def parse_lab(text: str, source: str, root: Path) -> Lab:
    """Validate lab.yaml's text; raise ConfigError with one French line."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f"ligne {mark.line + 1}" if mark else None
        raise ConfigError(source, line, f"YAML invalide : {_yaml_problem(e.problem)}") from None
    except yaml.YAMLError:
        raise ConfigError(source, None, "YAML invalide : syntaxe invalide") from None
    if data is None:
        raise ConfigError(source, None, "fichier vide : copiez le lab.yaml du dépôt et adaptez-le")
    if not isinstance(data, dict):
        raise ConfigError(source, None, "une table de clés est attendue (course, servers, nginx…)")
    if {"root", "source"} & data.keys():
        raise ConfigError(source, "root", "clé inconnue (vérifiez l'orthographe)")
    try:
        lab = Lab.model_validate({**data, "root": root, "source": source})
    except ValidationError as e:
        # A control given as a table is the commands form: the literal branch's errors
        # (« local or manual expected ») say nothing useful about it.
        errors = [err for err in e.errors() if not _literal_branch(err)] or e.errors()
        where, message = _describe(errors[0])
        more = f" (et {len(errors) - 1} autre(s) erreur(s))" if len(errors) > 1 else ""
        raise ConfigError(source, where or None, message + more) from None
    _check_consistency(lab)
    return lab


def _check_consistency(lab: Lab) -> None:
    for name in lab.servers:
        if name not in SERVER_NAMES:
            raise ConfigError(lab.source, f"servers.{name}", "serveur inconnu : A et B seulement")
    for name in SERVER_NAMES:
        if name not in lab.servers:
            raise ConfigError(lab.source, f"servers.{name}", "serveur manquant (A et B attendus)")
    known = {m.initials for m in lab.team}
    for name, server in lab.servers.items():
        for initials in server.members:
            if initials not in known:
                raise ConfigError(
                    lab.source,
                    f"servers.{name}.members",
                    f"« {initials} » n'est pas dans team (initiales connues : "
                    f"{', '.join(sorted(known))})",
                )
    a, b = lab.servers["A"], lab.servers["B"]
    if (a.host, a.port) == (b.host, b.port):
        raise ConfigError(
            lab.source,
            "servers.B.port",
            f"A et B déclarent tous deux {a.host}:{a.port} : un port chacun",
        )
    local = {name: lab.control_of(name) == "local" for name in (*SERVER_NAMES, "nginx")}
    if len(set(local.values())) > 1:
        name = next(n for n, is_local in local.items() if is_local != local["A"])
        key = "nginx.control" if name == "nginx" else f"servers.{name}.control"
        raise ConfigError(
            lab.source,
            key,
            "« local » ne se mêle pas à manual ou à des commandes : labcheck exécute tout le "
            "laboratoire sur cette machine (local), ou l'équipe fait tourner le sien",
        )
    for name, server in lab.servers.items():
        _require_file(lab, f"servers.{name}.app", server.app)
    _require_file(lab, "nginx.config", lab.nginx.config)


def _require_file(lab: Lab, key: str, relative: Path) -> None:
    if not lab.path(relative).is_file():
        raise ConfigError(
            lab.source, key, f"fichier introuvable « {relative} » (chemin relatif au lab.yaml)"
        )


def load_lab(path: str | Path) -> Lab:
    """Read and validate a lab.yaml file."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            source, None, "fichier introuvable : lancez depuis le dossier du lab.yaml ou --lab"
        ) from None
    except OSError as e:
        raise ConfigError(source, None, f"lecture impossible ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(source, None, "ce n'est pas un fichier texte UTF-8") from None
    if "\x00" in text:
        raise ConfigError(source, None, "ce n'est pas un fichier texte (octets nuls)")
    return parse_lab(text, source, path.resolve().parent)
