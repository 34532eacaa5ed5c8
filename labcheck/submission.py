"""A team's submission, untrusted: its lab copied into a run folder, its claims read.

Nothing the submission names is executed but its two Flask files (by the checks, with
resource limits) and nginx on its sanitized config. Its lab.yaml is read as data: keys
labcheck does not know (commands, hooks...) and its own check settings are left out and
noted; every file it names must lie inside the submission. Its own checks/, conftest.py
and pytest settings are never copied, so the checks that run are labcheck's.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labcheck import claims, report
from labcheck.config import Lab, parse_lab
from labcheck.errors import ConfigError

KNOWN_KEYS = {"course", "lab", "team", "servers", "nginx"}
# Never copied into the run folder: other test code, environments, outputs, history.
_SKIPPED = (
    ".git", ".venv", "venv", "env", "node_modules", "__pycache__", "report", "logs",
    "checks", "conftest.py", "pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini",
    "sitecustomize.py", "usercustomize.py", "*.pyc", "*.log", "*.exe", "*.dll", "*.zip",
)  # fmt: skip
MAX_BYTES = 50 * 1024 * 1024


class SubmissionError(Exception):
    """The submission cannot be graded: one French line that says why."""


@dataclass
class Prepared:
    lab: Lab
    lab_yaml: Path  # the run folder's lab.yaml, written by labcheck
    notes: list[str] = field(default_factory=list)


def prepare(folder: Path, run: Path, checks: dict[str, Any]) -> Prepared:
    """Copy the submission's lab into ``run`` with a lab.yaml labcheck wrote itself."""
    source = folder / "lab.yaml"
    if not source.is_file():
        raise SubmissionError("pas de lab.yaml à la racine de la soumission")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        data = None  # parse_lab below says what is wrong, in one line
    notes = []
    if isinstance(data, dict):
        for key in sorted(set(data) - KNOWN_KEYS):
            if key == "control" and data[key] == "local":
                continue
            what = "réglages des vérifications" if key == "checks" else "clé ignorée"
            notes.append(
                f"lab.yaml : « {key} » laissé de côté ({what} ; rien de la soumission "
                "n'est exécuté hormis les deux fichiers Flask)"
            )
        data = {k: v for k, v in data.items() if k in KNOWN_KEYS}
        data.update(control="local", checks=checks)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False) if data else ""
    root = folder.resolve()
    try:
        lab = parse_lab(text if data else source.read_text(errors="replace"), "lab.yaml", root)
    except ConfigError as e:
        raise SubmissionError(str(e)) from None
    for name, relative in _named_files(lab).items():
        if not lab.path(relative).is_relative_to(root):
            raise SubmissionError(f"lab.yaml : {name} « {relative} » est hors de la soumission")
    _copy(root, run)
    lab_yaml = run / "lab.yaml"
    lab_yaml.write_text(text, encoding="utf-8")
    return Prepared(parse_lab(text, str(lab_yaml), run), lab_yaml, notes)


def _named_files(lab: Lab) -> dict[str, Path]:
    files = {f"servers.{name}.app": s.app for name, s in lab.servers.items()}
    return {**files, "nginx.config": lab.nginx.config}


def _copy(root: Path, run: Path) -> None:
    # symlinks=True: a link is copied as a link, never followed out of the submission.
    shutil.copytree(root, run, symlinks=True, ignore=shutil.ignore_patterns(*_SKIPPED))
    size = sum(p.stat().st_size for p in run.rglob("*") if p.is_file() and not p.is_symlink())
    if size > MAX_BYTES:
        raise SubmissionError(f"soumission trop volumineuse ({size // 2**20} Mo, 50 Mo au plus)")


@dataclass
class Claims:
    """What the team says, where it says it, and what is wrong with how it says it."""

    by_question: dict[str, claims.Claim]
    source: str | None  # "results.json", "rapport.md" or None
    flags: list[str] = field(default_factory=list)


def read_claims(folder: Path) -> Claims:
    """results.json when present, otherwise the answers of rapport.md."""
    results = folder / "report" / "results.json"
    if results.is_file():
        try:
            data = json.loads(results.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            data = None
        if isinstance(data, dict):
            return Claims(claims.from_results(data), "results.json", _integrity(folder, data))
    for candidate in (
        folder / "report" / "rapport.md",
        folder / "rapport.md",
        folder / "README.md",
    ):
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace")
            found = claims.from_report(text)
            if any(c.says for c in found.values()):
                name = str(candidate.relative_to(folder))
                return Claims(found, name)
    return Claims({q: claims.Claim(q, None) for q in claims.QUESTION_IDS}, None)


def _integrity(folder: Path, data: dict[str, Any]) -> list[str]:
    """What shows that a results.json is not what labcheck wrote for these files."""
    flags = []
    if "empreinte" not in data:
        flags.append("results.json n'a pas d'empreinte : il n'a pas été écrit par labcheck")
    elif data["empreinte"] != report.results_fingerprint(data):
        flags.append("results.json a été modifié après avoir été écrit par labcheck")
    digests = data.get("digests")
    if isinstance(digests, dict):
        for name, digest in digests.items():
            path = folder / str(name)
            actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            if actual != digest:
                state = "diffère" if actual else "est absent"
                flags.append(
                    f"results.json a été produit avec un autre {name} : le fichier remis {state}"
                )
    return flags
