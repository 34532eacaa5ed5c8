"""report/: rapport.md (the team's French report), its figures, rapport.html and results.json.

Everything is written from the evidence.

The team's prose lives between markers in rapport.md and is carried over each time the
report is generated. A rapport.md changed by hand outside those markers (or written
before labcheck) is never overwritten: the new report goes beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import markdown

from labcheck import __version__, figures
from labcheck.answers import answer, evidence, nginx_facts
from labcheck.config import Lab
from labcheck.evidence import QUESTIONS, STATUS_FR, Question

PROSE = {
    "objectif": "*À rédiger par l'équipe : l'objectif du laboratoire, en vos mots.*",
    "appris": "*À rédiger par l'équipe : ce que vous avez appris.*",
    "conclusion": "*À rédiger par l'équipe : votre conclusion.*",
    "autres": "",
}
_BLOCK = re.compile(
    r"<!-- labcheck:debut (?P<name>\w+)[^>]*-->\n(?P<text>.*?)<!-- labcheck:fin (?P=name) -->",
    re.DOTALL,
)
_FINGERPRINT = re.compile(r"\n?<!-- labcheck:empreinte (?P<digest>[0-9a-f]+)[^>]*-->\n?$")


# The figure of each question that has one: its file in report/, and what it shows.
FIGURES = {
    "Q3": ("q3.svg", "Q3 : qui a répondu à chaque requête envoyée à nginx"),
    "Q4": ("q4.svg", "Q4 : les requêtes à nginx quand A est arrêté, puis redémarré"),
}


@dataclass(frozen=True)
class Written:
    markdown: Path
    results: Path
    kept: Path | None = None  # a hand-edited rapport.md left untouched
    html: Path | None = None


def prose_blocks(text: str) -> dict[str, str]:
    return {m["name"]: m["text"].strip("\n") for m in _BLOCK.finditer(text)}


def fingerprint(text: str) -> str:
    """Digest of the generated part: the prose blocks and the fingerprint line excluded."""
    text = _FINGERPRINT.sub("", text)
    text = _BLOCK.sub(lambda m: m["name"], text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def edited_by_hand(text: str) -> bool:
    match = _FINGERPRINT.search(text)
    return match is None or match["digest"] != fingerprint(text)


def templates() -> jinja2.Environment:
    """labcheck's templates: rapport.md, rapport.html, retour.md."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("labcheck", "templates"),
        autoescape=False,  # Markdown, not HTML: server text is escaped by answers.md
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    lab: Lab,
    questions: dict[str, Question],
    meta: dict[str, Any],
    prose: dict[str, str],
    svgs: dict[str, str] | None = None,
) -> str:
    """The whole rapport.md text, fingerprint included."""
    ordered = [questions.get(qid) or Question(qid) for qid in QUESTIONS]
    svgs = svgs or {}
    text = (
        templates()
        .get_template("rapport.md.j2")
        .render(
            lab=lab,
            meta=meta,
            questions=[
                (
                    q,
                    QUESTIONS[q.id],
                    answer(q, lab),
                    STATUS_FR[q.status],
                    evidence(q, lab.declared_url),
                    FIGURES[q.id] if q.id in svgs else None,
                )
                for q in ordered
            ],  # fmt: skip
            nginx=nginx_facts(meta.get("nginx")),
            passed=sum(q.status == "passed" for q in ordered),
            mapped=[
                f"{host} → {loopback}"
                for host, loopback in meta.get("machines", {}).items()
                if host != loopback
            ],
            prose={**PROSE, **prose},
            members=lambda name: ", ".join(
                f"{m.name} ({m.initials})" for m in lab.members_of(name)
            ),
        )
    )
    return text + f"\n<!-- labcheck:empreinte {fingerprint(text)} (générée, ne pas retoucher) -->\n"


def results(lab: Lab, questions: dict[str, Question], meta: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable record the grader reads."""
    files = [lab.root / Path(lab.source).name]
    files += [lab.path(s.app) for s in lab.servers.values()] + [lab.path(lab.nginx.config)]
    record = {
        **meta,
        "labcheck_version": __version__,
        "lab": lab.model_dump(mode="json"),
        "digests": {
            str(p.relative_to(lab.root) if p.is_relative_to(lab.root) else p): _sha256(p)
            for p in dict.fromkeys(files)
            if p.is_file()
        },
        "questions": [(questions.get(qid) or Question(qid)).as_dict() for qid in QUESTIONS],
    }
    return {**record, "empreinte": results_fingerprint(record)}


def results_fingerprint(record: dict[str, Any]) -> str:
    """SHA-256 of a results.json's content (its "empreinte" left out): a hand edit shows."""
    content = {k: v for k, v in record.items() if k != "empreinte"}
    return hashlib.sha256(
        json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
    ).hexdigest()


def write(lab: Lab, questions: dict[str, Question], meta: dict[str, Any]) -> Written:
    """Write rapport.md and results.json atomically; keep a hand-edited rapport.md."""
    folder = lab.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "rapport.md"
    previous = target.read_text(encoding="utf-8") if target.exists() else None
    kept = None
    if previous is not None and edited_by_hand(previous):
        kept, target = target, folder / "rapport.nouveau.md"
    prose = prose_blocks(previous or "")
    svgs = {}
    for qid, (name, title) in FIGURES.items():
        svg = figures.timeline(questions[qid], title) if qid in questions else None
        if svg:
            svgs[qid] = svg
            _atomic_write(folder / name, svg)
        else:
            (folder / name).unlink(missing_ok=True)  # no stale figure of an earlier run
    text = render(lab, questions, meta, prose, svgs)
    _atomic_write(target, text)
    html = target.with_suffix(".html")
    _atomic_write(html, to_html(text, svgs, f"{lab.course} — {lab.lab}"))
    record = json.dumps(results(lab, questions, meta), ensure_ascii=False, indent=2)
    _atomic_write(folder / "results.json", record + "\n")
    return Written(target, folder / "results.json", kept, html)


def to_html(text: str, svgs: dict[str, str], title: str) -> str:
    """rapport.html: the report in one self-contained, printable page, figures inline."""
    body = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"])
    for qid, svg in svgs.items():
        name, _ = FIGURES[qid]
        image = re.compile(rf'<img alt="[^"]*" src="{re.escape(name)}" ?/?>')
        body = image.sub(svg.replace("\\", "\\\\"), body)
    return templates().get_template("rapport.html.j2").render(title=title, body=body)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
