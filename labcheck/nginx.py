"""nginx: the real binary, run unprivileged in a private prefix from the team's config.

The team's nginx.conf is parsed with crossplane (the nginx config parser) and rendered
again for the run: upstream servers and listen addresses mapped onto this machine's
loopback endpoints, every path (pid, logs, temp folders, includes, html/) pointed into
the run folder, and an access log that names the backend of every request.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import crossplane

from labcheck.errors import ConfigError, LabcheckError, NginxConfigError, NginxNotFound
from labcheck.network import Binding, Endpoint, Network

Directive = dict[str, Any]

# Paths nginx would otherwise take from its build (Debian: /var/lib/nginx, /var/log/nginx).
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
_DROPPED = {"#", "daemon", "pid", "error_log", "access_log", "lock_file"} | {
    f"{kind}_temp_path" for kind in TEMP_PATHS
}
# Directives that reach outside the run folder or this machine: left out, and said.
_REFUSED = {
    "load_module": "charge du code dans nginx",
    "user": "change d'utilisateur",
    "resolver": "interroge un serveur DNS",
    "working_directory": "écrit hors du dossier d'exécution",
    "worker_rlimit_core": "écrit des vidages mémoire",
    "env": "transmet l'environnement",
    "ssl_engine": "charge un moteur matériel",
} | {f"{kind}_cache_path": "écrit hors du dossier d'exécution" for kind in TEMP_PATHS}
# Directives that connect to a backend: their address is mapped like upstream entries.
_PASSES = {"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass"}
_PASS_TARGET = re.compile(
    r"^(?P<scheme>[a-z]+://)?(?P<host>\[[^\]]*\]|[^/:]+)(?::(?P<port>\d+))?(?P<rest>.*)$"
)
# Files of nginx's own conf/ folder, which a config may include by name.
_STOCK_INCLUDES = {
    "mime.types", "fastcgi_params", "fastcgi.conf", "proxy_params", "scgi_params",
    "uwsgi_params", "koi-utf", "koi-win", "win-utf",
}  # fmt: skip
_STOCK_HTML = {
    "index.html": "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>\n",
    "50x.html": "<!DOCTYPE html><html><body><h1>An error occurred.</h1></body></html>\n",
}
_ACCESS_FORMAT = '$msec "$request" $status upstream=$upstream_addr upstream_status=$upstream_status'


def binary() -> str:
    """The nginx executable: $LABCHECK_NGINX, then PATH, then Debian's /usr/sbin."""
    wanted = os.environ.get("LABCHECK_NGINX")
    if wanted:
        if shutil.which(wanted):
            return wanted
        raise NginxNotFound(f"LABCHECK_NGINX={wanted}")
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise NginxNotFound("ni dans le PATH ni dans /usr/sbin")
    return found


@functools.cache
def version(executable: str) -> str:
    out = subprocess.run([executable, "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"nginx/(\S+)", out.stderr + out.stdout)
    return match.group(1) if match else "inconnue"


@dataclass(frozen=True)
class Upstream:
    name: str
    method: str
    zone: bool
    servers: tuple[tuple[str, tuple[str, ...]], ...]  # (address, parameters)


@dataclass(frozen=True)
class Facts:
    """What the team's nginx.conf says, as far as the checks care."""

    worker_processes: str = "1"
    upstreams: tuple[Upstream, ...] = ()
    proxy_pass: tuple[str, ...] = ()
    proxy_next_upstream: tuple[str, ...] = ("error", "timeout")
    listens: tuple[str, ...] = ()

    @property
    def upstream(self) -> Upstream | None:
        """The upstream that proxy_pass uses (the first one otherwise)."""
        used = {re.sub(r"^https?://", "", p).split("/")[0] for p in self.proxy_pass}
        for upstream in self.upstreams:
            if upstream.name in used:
                return upstream
        return self.upstreams[0] if self.upstreams else None


def describe(team: Facts, ran: Facts | None, version: str) -> dict[str, Any]:
    """nginx's facts for the report: the team's upstream, and where it ran, if it ran here."""
    upstream = team.upstream
    ran_upstream = ran.upstream if ran else None
    servers = []
    for n, (address, params) in enumerate(upstream.servers if upstream else ()):
        values = dict(p.split("=", 1) for p in params if "=" in p)
        as_run = None
        if ran_upstream and n < len(ran_upstream.servers):
            as_run = ran_upstream.servers[n][0]
        servers.append(
            {
                "address": address, "as_run": as_run,
                "max_fails": values.get("max_fails", "1 (défaut)"),
                "fail_timeout": values.get("fail_timeout", "10s (défaut)"),
                "weight": values.get("weight", "1"), "backup": "backup" in params,
            }
        )  # fmt: skip
    return {
        "version": version,
        "worker_processes": team.worker_processes,
        "upstream": upstream.name if upstream else None,
        "method": upstream.method if upstream else None,
        "zone": upstream.zone if upstream else False,
        "servers": servers,
        "proxy_next_upstream": " ".join(team.proxy_next_upstream),
        "listen": list(team.listens),
        "as_run": ran is not None,
    }


def parse(source: Path) -> list[Directive]:
    """The directives of a team's nginx.conf; syntax errors name the team's line."""
    if source.read_bytes().startswith(b"\xef\xbb\xbf"):
        raise ConfigError(
            str(source),
            "ligne 1",
            "le fichier commence par une signature UTF-8 (BOM), que nginx lit comme une "
            "directive inconnue : enregistrez-le en « UTF-8 » sans BOM",
        )
    payload = crossplane.parse(str(source), single=True, check_ctx=False, comments=False)
    if payload["errors"]:
        error = payload["errors"][0]
        raise ConfigError(str(source), f"ligne {error.get('line') or '?'}", _french(error["error"]))
    directives: list[Directive] = payload["config"][0]["parsed"]
    return directives


def _french(message: str) -> str:
    detail = re.sub(r" in /\S+:\d+$", "", message)
    return f"erreur de syntaxe nginx ({detail}) : corrigez cette ligne puis relancez"


def facts(directives: list[Directive]) -> Facts:
    found: dict[str, Any] = {"upstreams": [], "proxy_pass": [], "listens": []}
    for d in _walk(directives):
        name = d["directive"]
        if name == "worker_processes" and d["args"]:
            found["worker_processes"] = d["args"][0]
        elif name == "upstream":
            found["upstreams"].append(_upstream(d))
        elif name == "proxy_pass":
            found["proxy_pass"].append(d["args"][0])
        elif name == "proxy_next_upstream":
            found["proxy_next_upstream"] = tuple(d["args"])
        elif name == "listen":
            found["listens"].append(d["args"][0])
    return Facts(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in found.items()}  # type: ignore[arg-type]
    )


def _upstream(block: Directive) -> Upstream:
    method, zone, servers = "round-robin", False, []
    for d in block.get("block", []):
        if d["directive"] in ("ip_hash", "hash", "least_conn", "random", "least_time"):
            method = d["directive"]
        elif d["directive"] == "zone":
            zone = True
        elif d["directive"] == "server":
            servers.append((d["args"][0], tuple(d["args"][1:])))
    return Upstream(block["args"][0] if block["args"] else "?", method, zone, tuple(servers))


def _walk(directives: list[Directive]) -> list[Directive]:
    out = []
    for d in directives:
        out.append(d)
        out.extend(_walk(d.get("block", [])))
    return out


def split_address(address: str, default_port: int = 80) -> tuple[str, int] | None:
    """'172.20.10.2:3000' -> ('172.20.10.2', 3000); '8181' -> ('', 8181); unix: -> None."""
    if address.startswith("unix:"):
        return None
    if address.isdigit():
        return "", int(address)
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and not host.endswith(":"):
        return host.strip("[]"), int(port)
    return address.strip("[]"), default_port


class RunConfig:
    """The team's config rendered into a private run folder (``nginx -p RUNDIR``).

    A config that cannot run (a syntax error, a listen address of another machine)
    is kept as ``error``: nginx then does not start, and the checks that need it say why.
    """

    def __init__(self, source: Path, rundir: Path, network: Network) -> None:
        self.source, self.rundir, self.network = source, rundir, network
        self.path = rundir / "conf" / "nginx.conf"
        self.error_log = rundir / "logs" / "error.log"
        self.access_log = rundir / "logs" / "access.log"
        self.error: LabcheckError | None = None
        self.listens: list[Binding] = []  # each listen directive: asked, and where it landed
        self.routes: list[tuple[str, str | None]] = []  # upstream entry -> service it reaches
        self.notes: list[str] = []  # what was left out of the team's config, and why
        self._lines: dict[int, tuple[str, int | None]] = {}  # rendered line -> team file, line
        try:
            self.directives = self._inline(parse(source))
        except ConfigError as e:
            self.directives, self.error = [], e
        self.facts = facts(self.directives)

    def write(self) -> Path:
        """Render the config into the run folder; raise ``error`` if it cannot run."""
        for sub in ("conf", "logs", "html", "temp"):
            (self.rundir / sub).mkdir(parents=True, exist_ok=True)
        for name, text in _STOCK_HTML.items():
            (self.rundir / "html" / name).write_text(text, encoding="utf-8")
        if self.error is None:
            rendered = self._render([_copy(d) for d in self.directives])
            self.path.write_text(crossplane.build(rendered) + "\n", encoding="utf-8")
            self._lines = {
                int(r["line"]): (d.get("file", self.source.name), d.get("line"))
                for r, d in zip(_walk(self._reparse()), _walk(rendered), strict=False)
            }
        if self.error is not None:
            raise self.error
        return self.path

    def rendered(self) -> list[Directive]:
        """The directives of the config as it runs (after ``write``)."""
        return self._reparse()

    def _reparse(self) -> list[Directive]:
        parsed: list[Directive] = crossplane.parse(str(self.path), single=True)["config"][0][
            "parsed"
        ]
        return parsed

    def addresses(self) -> list[Endpoint]:
        """Every address the rendered config listens on or connects to."""
        found = []
        upstreams = {u.name for u in self.facts.upstreams}
        for d in _walk(self._reparse()):
            if d["directive"] in ("listen", "server") and d["args"] and d.get("block") is None:
                parts = split_address(d["args"][0])
                if parts:
                    found.append(Endpoint(*parts))
            elif d["directive"] in _PASSES and (match := _PASS_TARGET.match(d["args"][0])):
                if match["host"] not in upstreams:
                    found.append(Endpoint(match["host"].strip("[]"), int(match["port"] or 80)))
        return found

    def team_line(self, message: str) -> str:
        """nginx's message, with the rendered config's path and line turned into the team's."""

        def replace(match: re.Match[str]) -> str:
            # nginx may name the line that closes a block: the directive that opened it
            # is the nearest one above.
            above = [n for n in self._lines if n <= int(match.group(1))]
            file, line = self._lines[max(above)] if above else (self.source.name, None)
            return f" ({file}, ligne {line})" if line else " (ligne ajoutée par labcheck)"

        return re.sub(re.escape(f" in {self.path}:") + r"(\d+)", replace, message)

    def _render(self, directives: list[Directive]) -> list[Directive]:
        if not any(d["directive"] == "http" for d in directives):
            # A conf.d snippet (upstream and server blocks only): give it its frame.
            directives = [block("http", directives)]
        if not any(d["directive"] == "events" for d in directives):
            directives.insert(0, block("events", []))
        main = [
            directive("pid", str(self.rundir / "nginx.pid")),
            directive("error_log", str(self.error_log)),
        ]
        return main + [r for d in directives for r in self._rewrite(d)]

    def _rewrite(self, d: Directive) -> list[Directive]:
        """The directive as it runs here: addresses and paths mapped, maybe several or none."""
        name, args = d["directive"], d["args"]
        if name in _DROPPED:
            if args and _elsewhere(args[0]):  # logs, pid... at a path of another machine
                self._note(d, "chemin hors du dossier d'exécution, remplacé")
            return []
        if name in _REFUSED:
            self._note(d, _REFUSED[name])
            return []
        if name == "include" and args:
            return self._include(d)
        if name in _PASSES and args:
            d["args"] = [self._pass_target(d), *args[1:]]
        if name == "server" and "block" not in d and args:  # an upstream entry
            d["args"] = [self._upstream_address(d), *args[1:]]
        elif name == "listen" and args:
            d["args"] = [self._listen_address(args[0], d.get("line")), *args[1:]]
        elif name in ("root", "alias") and args:
            if _elsewhere(args[0]):
                self._note(d, "chemin hors du dossier d'exécution, remplacé par html/")
            d["args"] = [str(self.rundir / "html")]  # the stock layout's html/ folder
        if "block" in d:
            d["block"] = _dedupe_listens([r for c in d["block"] for r in self._rewrite(c)])
        if name == "http":
            d["block"] = self._http_preamble() + d["block"]
        return [d]

    def _http_preamble(self) -> list[Directive]:
        temp = self.rundir / "temp"
        return [
            directive("log_format", "labcheck", _ACCESS_FORMAT),
            directive("access_log", str(self.access_log), "labcheck"),
            *(directive(f"{kind}_temp_path", str(temp / kind)) for kind in TEMP_PATHS),
        ]

    def _note(self, d: Directive, why: str) -> None:
        where = f"{d.get('file', self.source.name)}, ligne {d.get('line') or '?'}"
        text = " ".join([d["directive"], *d["args"]])
        self.notes.append(f"{where} : « {text} » laissé de côté ({why})")

    def _pass_target(self, d: Directive) -> str:
        """proxy_pass & co.: an upstream's name stays, an address is mapped to loopback."""
        target = d["args"][0]
        match = _PASS_TARGET.match(target)
        upstreams = {u.name for u in self.facts.upstreams}
        if target.startswith(("unix:", "http://unix:")) or match is None:
            return target
        host = match["host"]
        if host in upstreams and not match["port"]:
            return target
        if "$" in target:  # resolved while running, through a resolver: not here
            self._note(d, "adresse calculée à l'exécution")
            return f"{match['scheme'] or ''}{self.network.nowhere()}"
        if not self.network.knows(host):
            self._host_not_found(d, host)
            return target
        default = 443 if (match["scheme"] or "").startswith(("https", "grpcs")) else 80
        endpoint = self.network.connect(host, int(match["port"] or default))
        return f"{match['scheme'] or ''}{endpoint}{match['rest']}"

    def _host_not_found(self, d: Directive, host: str) -> None:
        """What nginx -t says of a name it cannot resolve, said before any DNS lookup."""
        line = d.get("line")
        self.error = self.error or ConfigError(
            d.get("file", self.source.name),
            f"ligne {line}" if line else None,
            f"« {' '.join([d['directive'], *d['args']])} » : « {host} » n'est ni un upstream "
            "de la configuration ni une machine de lab.yaml ; nginx refuserait de démarrer "
            f'(host not found in upstream "{host}")',
        )

    def _upstream_address(self, d: Directive) -> str:
        address = d["args"][0]
        parts = split_address(address)
        if parts is None:
            return address
        if not self.network.knows(parts[0]):
            self._host_not_found(d, parts[0])
            return address
        endpoint = self.network.connect(*parts)
        self.routes.append((address, self.network.service_at(endpoint)))
        return str(endpoint)

    def _listen_address(self, address: str, line: int | None) -> str:
        parts = split_address(address)
        if parts is None:
            return address
        binding = self.network.machine_of("nginx").bind(*parts)
        self.listens.append(binding)
        if binding.endpoint is None:
            names = ", ".join(self.network.machine_of("nginx").names)
            self.error = ConfigError(
                self.source.name,
                f"ligne {line}" if line else None,
                f"listen {address} : cette adresse n'est pas celle de la machine de nginx "
                f"({names}) ; nginx refuserait de démarrer (Cannot assign requested "
                "address). Écrivez seulement le port : listen 8181;",
            )
            return address
        return str(binding.endpoint)

    def _include(self, d: Directive) -> list[Directive]:
        """A stock include (mime.types...), from the team's folder or the stock layout.

        The team's own files were read in place by ``_inline``. Anything else
        (/etc/nginx/sites-enabled/*, C:/nginx/...) names files of the machine the
        config was written on: left out.
        """
        target = d["args"][0]
        name = PureWindowsPath(target).name  # C:\\nginx\\conf\\mime.types too
        team = self.source.parent / target
        stock = team if not _elsewhere(target) and team.is_file() else Path("/etc/nginx") / name
        if name not in _STOCK_INCLUDES or not stock.is_file():
            if _elsewhere(target) or any(c in target for c in "*?["):
                self._note(d, "fichier d'une autre machine")
            return []
        copy = self.rundir / "conf" / name
        shutil.copyfile(stock, copy)
        return [{**d, "args": [str(copy)]}]

    def _inline(self, directives: list[Directive], depth: int = 0) -> list[Directive]:
        """The team's own included files (a conf.d layout) read in place of their include.

        nginx resolves a relative include from the folder of the main config.
        """
        out = []
        for d in directives:
            target = d["args"][0] if d["directive"] == "include" and d["args"] else None
            if (
                target
                and not _elsewhere(target)
                and PureWindowsPath(target).name not in (_STOCK_INCLUDES)
            ):
                folder = self.source.parent.resolve()
                if not (folder / target).resolve().is_relative_to(folder):
                    self._note(d, "fichier hors du dossier de l'équipe")
                    continue
                for path in sorted(self.source.parent.glob(target)) if depth < 8 else []:
                    if path.resolve().is_relative_to(folder) and path.is_file():
                        out.extend(self._inline(_from_file(parse(path), path.name), depth + 1))
                continue
            if "block" in d:
                d = {**d, "block": self._inline(d["block"], depth)}
            out.append(d)
        return out


def _from_file(directives: list[Directive], name: str) -> list[Directive]:
    """Mark directives read from an included file, so that errors name that file."""
    for d in _walk(directives):
        d["file"] = name
    return directives


def _elsewhere(target: str) -> bool:
    """An include path of another machine: /etc/nginx/..., C:/nginx/..."""
    return os.path.isabs(target) or PureWindowsPath(target).is_absolute()


def _copy(d: Directive) -> Directive:
    out: Directive = {key: d[key] for key in ("directive", "line", "file") if key in d}
    out["args"] = list(d["args"])
    if "block" in d:
        out["block"] = [_copy(c) for c in d["block"]]
    return out


def directive(name: str, *args: str) -> Directive:
    return {"directive": name, "args": list(args)}


def block(name: str, block: list[Directive]) -> Directive:
    return {"directive": name, "args": [], "block": block}


def _dedupe_listens(block: list[Directive]) -> list[Directive]:
    seen, out = set(), []
    for d in block:
        if d["directive"] == "listen":
            key = d["args"][0] if d["args"] else ""
            if key in seen:
                continue  # "listen 8181" and "listen [::]:8181" map to the same endpoint
            seen.add(key)
        out.append(d)
    return out


def check(executable: str, config: RunConfig) -> None:
    """``nginx -t`` on the rendered config; its message on failure."""
    result = subprocess.run(
        [*command(executable, config), "-t", "-q"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise NginxConfigError(config.source.name, config.team_line(result.stderr or result.stdout))


def command(executable: str, config: RunConfig) -> list[str]:
    return [
        executable,
        "-p",
        f"{config.rundir}/",
        "-c",
        str(config.path),
        "-e",
        str(config.error_log),
        "-g",
        "daemon off;",
    ]
