"""Grading: re-run labcheck's checks on each submission and weigh the team's claims.

Per question the verdict is « confirmé » (what the team says is what labcheck observed),
« contredit » (the team says one thing, labcheck observed the other), « non déclaré »
(no answer) or « non vérifiable » (the check could not run, or failed on a precondition:
the question itself was never asked; the reason is given). A question scores
its points when it is confirmed and the check passed; a contradicted claim scores 0.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labcheck import CHECKS_DIR, __version__, claims
from labcheck.claims import CONFORME
from labcheck.errors import ConfigError
from labcheck.evidence import QUESTIONS, STATUS_FR
from labcheck.processes import kill_started_by
from labcheck.report import templates
from labcheck.submission import Claims, SubmissionError, prepare, read_claims

CONFIRMED, CONTRADICTED = "confirmé", "contredit"
UNDECLARED, UNVERIFIABLE = "non déclaré", "non vérifiable"


class Scale(BaseModel):
    """The grading file (optional): points per question, and the grader's check settings."""

    model_config = ConfigDict(extra="forbid")
    points: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(QUESTIONS, 25.0))
    # Nginx's return to A after a restart is measured, never graded: not worth a wait.
    checks: dict[str, Any] = Field(default_factory=lambda: {"recovery_timeout": 0.5})

    @property
    def total(self) -> float:
        return sum(self.points.get(q, 0.0) for q in QUESTIONS)


def load_scale(path: Path | None) -> Scale:
    if path is None:
        return Scale()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        scale = Scale.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as e:
        detail = e.errors()[0]["msg"] if isinstance(e, ValidationError) else type(e).__name__
        raise ConfigError(str(path), None, f"barème illisible ({detail})") from None
    unknown = set(scale.points) - set(QUESTIONS)
    if unknown:
        raise ConfigError(str(path), "points", f"questions inconnues : {', '.join(unknown)}")
    return scale


@dataclass
class Verdict:
    question: str
    claim: str | None  # conforme / non conforme / None
    quote: str
    observed: str | None  # passed / failed / error / not-run, or None: not run at all
    diagnostic: str | None
    verdict: str
    points: float

    @property
    def observed_fr(self) -> str:
        return STATUS_FR.get(self.observed or "not-run", "non exécutée")


@dataclass
class Graded:
    """Everything known about one submission once graded."""

    name: str
    folder: str
    status: str  # "notée", or "non notable : why"
    verdicts: list[Verdict] = field(default_factory=list)
    claims_source: str | None = None
    flags: list[str] = field(default_factory=list)  # results.json not what labcheck wrote
    notes: list[str] = field(default_factory=list)  # what was left out of the submission
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(v.points for v in self.verdicts)


def verdict(claim: str | None, observed: str | None) -> str:
    if observed not in ("passed", "failed"):
        return UNVERIFIABLE
    if claim is None:
        return UNDECLARED
    works = observed == "passed"
    return CONFIRMED if (claim == CONFORME) == works else CONTRADICTED


def weigh(
    said: Claims, results: dict[str, Any] | None, scale: Scale, why: str = ""
) -> list[Verdict]:
    """One verdict per question, from the claims and the grader's own run (its results)."""
    observed = {q["id"]: q for q in results["questions"]} if results is not None else None
    out = []
    for qid in QUESTIONS:
        claim = said.by_question.get(qid) or claims.Claim(qid, None)
        seen = (observed or {}).get(qid, {})
        status = seen.get("status") if observed is not None else None
        decided = verdict(claim.says, status)
        if seen.get("precondition_failed"):  # the question itself was never asked
            decided = UNVERIFIABLE
        diagnostic = seen.get("diagnostic") or (why if decided == UNVERIFIABLE else None)
        scored = decided == CONFIRMED and status == "passed"
        points = scale.points.get(qid, 0.0) if scored else 0.0
        out.append(Verdict(qid, claim.says, claim.quote, status, diagnostic, decided, points))
    return out


class Batch:
    """Submissions graded in parallel, each in its own run folder, ports and time limit."""

    def __init__(self, out: Path, scale: Scale, timeout: float, jobs: int) -> None:
        self.out, self.scale, self.timeout, self.jobs = out.resolve(), scale, timeout, jobs
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def run(
        self, folders: list[Path], done: Callable[[Graded], None] = lambda g: None
    ) -> list[Graded]:
        """Grade every folder; each row reaches notes.csv as soon as it is known."""
        self.out.mkdir(parents=True, exist_ok=True)
        names = _names(folders)
        graded: list[Graded] = []
        with _Notes(self.out / "notes.csv", self.scale) as notes:
            pool = ThreadPoolExecutor(max_workers=self.jobs)
            try:
                futures = {pool.submit(self.grade, f, names[f]): f for f in folders}
                for future in as_completed(futures):
                    result = future.result()
                    notes.add(result)
                    graded.append(result)
                    done(result)
            except BaseException:  # Ctrl+C: stop what runs, keep the rows written
                self._stopping.set()
                pool.shutdown(wait=False, cancel_futures=True)
                self._stop_all()
                raise
            finally:
                pool.shutdown(wait=True)
        return graded

    def grade(self, folder: Path, name: str) -> Graded:
        began = time.monotonic()
        graded = Graded(name, str(folder), "notée")
        target = self.out / name
        target.mkdir(parents=True, exist_ok=True)
        said = read_claims(folder)
        graded.claims_source, graded.flags = said.source, said.flags
        with tempfile.TemporaryDirectory(prefix="labcheck-note-") as tmp:
            run = Path(tmp) / "equipe"
            try:
                prepared = prepare(folder, run, self.scale.checks)
                graded.notes += prepared.notes
                observed, why = self._check(run, prepared.lab_yaml, target)
                if observed is not None:
                    graded.notes += [str(note) for note in observed.get("nginx_notes", [])]
            except SubmissionError as e:
                observed, why = None, str(e)
            except Exception as e:  # never lose the other submissions' rows
                observed, why = None, f"erreur interne de labcheck ({type(e).__name__}: {e})"
            if observed is None:
                graded.status = f"non notable : {why}"
            graded.verdicts = weigh(said, observed, self.scale, why)
        graded.seconds = round(time.monotonic() - began, 2)
        try:
            _write_outputs(graded, target, self.scale)
        except OSError as e:  # the row still reaches notes.csv
            graded.flags.append(f"retour.md non écrit : {e}")
        return graded

    def _check(self, run: Path, lab_yaml: Path, target: Path) -> tuple[dict[str, Any] | None, str]:
        """labcheck's own checks on the run folder, under the time limit: their results."""
        if self._stopping.is_set():
            return None, "correction interrompue"
        ini = run.parent / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        command = [
            sys.executable, "-m", "pytest", str(CHECKS_DIR), "--lab", str(lab_yaml),
            "--free-ports", "-c", str(ini), "--rootdir", str(run.parent),
            "--confcutdir", str(CHECKS_DIR), "-p", "labcheck.plugin", "-p", "no:cacheprovider",
            "-q", "--html", str(target / "pytest.html"), "--self-contained-html",
        ]  # fmt: skip
        env = {**os.environ, "LABCHECK_LIMITS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        with (target / "journal.txt").open("wb") as log:
            proc = subprocess.Popen(
                command, cwd=run.parent, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
            with self._lock:
                self._running.add(proc)
            try:
                proc.wait(timeout=self.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _stop(proc)
                with self._lock:
                    self._running.discard(proc)
        if timed_out:
            return None, f"délai dépassé ({self.timeout:g} s) : le laboratoire a été arrêté"
        results = run / "report" / "results.json"
        if not results.is_file():
            return None, _last_error(target / "journal.txt")
        data = json.loads(results.read_text(encoding="utf-8"))
        (target / "observe.json").write_text(json.dumps(data, ensure_ascii=False, indent=2))
        return data, ""

    def _stop_all(self) -> None:
        with self._lock:
            running = list(self._running)
        for proc in running:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a grading run and all it started: SIGTERM (its lab is closed), then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    kill_started_by(proc.pid)  # what the run started, had it no time to stop it


def _last_error(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR: ")]
    if errors:
        return errors[-1]
    tail = next((line for line in reversed(lines) if line.strip()), "")
    return f"la vérification n'a pas produit de résultats ({tail[:200]})"


def _names(folders: Iterable[Path]) -> dict[Path, str]:
    """A distinct, file-system-safe name per submission, from its folder's name."""
    names: dict[Path, str] = {}
    used: set[str] = set()
    for folder in folders:
        base = "".join(c if c.isalnum() or c in "-_." else "_" for c in folder.resolve().name)
        name, n = base or "soumission", 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        names[folder] = name
    return names


def number(value: float) -> str:
    return f"{value:g}".replace(".", ",")


class _Notes:
    """notes.csv, one row per submission, written as each one finishes (Excel: ; and BOM)."""

    def __init__(self, path: Path, scale: Scale) -> None:
        self.path, self.scale = path, scale
        self._file: IO[str] | None = None

    def __enter__(self) -> _Notes:
        self._file = self.path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file, delimiter=";")
        header = ["soumission", "statut", *QUESTIONS, "total", "sur", "verdicts", "remarques"]
        self._write(header)
        return self

    def add(self, graded: Graded) -> None:
        points = {v.question: number(v.points) for v in graded.verdicts}
        verdicts = " ; ".join(f"{v.question} {v.verdict}" for v in graded.verdicts)
        remarks = " ; ".join(graded.flags)
        row = [graded.name, graded.status, *(points.get(q, "0") for q in QUESTIONS)]
        self._write([*row, number(graded.total), number(self.scale.total), verdicts, remarks])

    def _write(self, row: list[str]) -> None:
        assert self._file is not None
        self._writer.writerow(row)
        self._file.flush()
        os.fsync(self._file.fileno())

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()


def _write_outputs(graded: Graded, target: Path, scale: Scale) -> None:
    record = {
        "labcheck_version": __version__,
        **asdict(graded),
        "total": graded.total,
        "sur": scale.total,
    }
    (target / "grade.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    template = templates().get_template("retour.md.j2")
    text = template.render(g=graded, scale=scale, questions=QUESTIONS, number=number)
    (target / "retour.md").write_text(text, encoding="utf-8")
