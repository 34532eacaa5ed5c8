"""pytest glue: the --lab option, the running lab, evidence per check, the report at the end.

Loaded by the root conftest.py. Everything it keeps lives in ``config.stash``.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labcheck import CHECKS_DIR, __version__, isolation
from labcheck.config import Lab, load_lab
from labcheck.errors import LabcheckError

if TYPE_CHECKING:  # imported when used: the lab starts before they load, and meanwhile
    from labcheck.evidence import Question
    from labcheck.report import Written
    from labcheck.running import RunningLab


@dataclass
class Run:
    lab: Lab
    isolated: bool = False
    running: RunningLab | None = None
    ready: bool = False
    questions: dict[str, Question] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now().astimezone())
    written: Written | None = None


RUN = pytest.StashKey[Run]()
QUESTION = pytest.StashKey["Question"]()
_PREVIOUS_SIGTERM = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("labcheck")
    group.addoption(
        "--lab", default="lab.yaml", help="le lab.yaml à vérifier (défaut : ./lab.yaml)"
    )
    group.addoption(
        "--free-ports",
        action="store_true",
        help="exécuter le laboratoire sur des ports libres plutôt que sur ceux déclarés",
    )


def _runs_checks(config: pytest.Config) -> bool:
    for arg in config.args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path == CHECKS_DIR or CHECKS_DIR in path.parents:
            return True
    return False


def _terminal(config: pytest.Config) -> Callable[[str], None]:
    """Say something to the person at the terminal now, even while a check runs."""

    def say(text: str) -> None:
        capture = config.pluginmanager.getplugin("capturemanager")
        reporter = config.pluginmanager.getplugin("terminalreporter")
        with capture.global_and_fixture_disabled() if capture else nullcontext():
            if reporter is not None:
                reporter.ensure_newline()
                reporter.write_line(text, bold=True)
            else:
                print(text, flush=True)
            sys.stdout.flush()

    return say


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl+C: fixtures and the lab are stopped


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not _runs_checks(config):
        return
    try:
        lab = load_lab(config.getoption("lab"))
    except LabcheckError as e:
        raise pytest.UsageError(str(e)) from None
    run = config.stash[RUN] = Run(lab)
    if not config.option.collectonly:
        # Started now, so that Flask's start overlaps pytest's collection.
        from labcheck.local import LocalLab
        from labcheck.remote import RemoteLab

        try:
            if lab.remote:  # the team's machines: their network, not a private one
                run.running = RemoteLab(lab, say=_terminal(config))
            else:
                run.isolated = isolation.private_network()
                run.running = LocalLab(lab, free_ports=config.getoption("free_ports"))
            run.running.launch()
        except LabcheckError as e:
            raise pytest.UsageError(str(e)) from None
    if not config.getoption("htmlpath", None):
        config.option.htmlpath = str(lab.report_dir / "pytest.html")
        config.option.self_contained_html = True
    config.stash[_PREVIOUS_SIGTERM] = signal.signal(signal.SIGTERM, _interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None and run.running is not None:
        run.running.close()
    if _PREVIOUS_SIGTERM in config.stash:
        signal.signal(signal.SIGTERM, config.stash[_PREVIOUS_SIGTERM])


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    run = session.config.stash.get(RUN, None)
    if run is None or run.running is None:
        return (yield)
    try:
        run.running.wait_ready()
    except LabcheckError as e:
        raise pytest.UsageError(str(e)) from None
    run.ready = True
    try:
        return (yield)
    finally:
        run.running.close()


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    # A signal can interrupt a frame that has no line number (Python 3.11), and pytest then
    # crashes while printing the interruption: keep only the frames it can print.
    excinfo.traceback = excinfo.traceback.filter(_printable)


def _printable(entry: Any) -> bool:
    try:
        entry.lineno  # noqa: B018 - raises TypeError when the frame has no line number
    except TypeError:
        return False
    return True


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> RunningLab:
    """The running lab (A, B and nginx), started once for the whole run."""
    run = request.config.stash.get(RUN, None)
    if run is None or run.running is None or not run.ready:
        pytest.skip("aucun laboratoire en cours : lancez « pytest checks/ »")
    return run.running


@pytest.fixture
def evidence(request: pytest.FixtureRequest, lab: RunningLab) -> Callable[[str], Question]:
    """``evidence("Q2")``: the record of what this check observes."""
    run = request.config.stash[RUN]

    from labcheck.evidence import Question

    def start(question_id: str) -> Question:
        question = Question(question_id, lab=lab)
        run.questions[question_id] = question
        request.node.stash[QUESTION] = question
        return question

    return start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    result: pytest.TestReport = yield
    question = item.stash.get(QUESTION, None)
    if call.excinfo is not None and isinstance(call.excinfo.value, LabcheckError):
        result.longrepr = str(call.excinfo.value)  # one French line, no traceback
    if question is None or not (result.when == "call" or result.failed):
        return result
    question.status = result.outcome if result.when == "call" else "error"
    if result.failed and question.diagnostic is None and call.excinfo is not None:
        question.diagnostic = str(call.excinfo.value).strip().splitlines()[0]
    running = item.config.stash[RUN].running
    if running is not None:  # for report/pytest.html, not the terminal
        result.extras = [  # type: ignore[attr-defined]
            *getattr(result, "extras", []),
            *_html_evidence(question, running, with_logs=result.failed),
        ]
    return result


def _html_evidence(question: Question, running: RunningLab, with_logs: bool) -> list[Any]:
    """What pytest.html shows of a check: its evidence, its figure, logs if it failed."""
    import markdown
    from pytest_html import extras

    from labcheck import answers, figures
    from labcheck.report import FIGURES

    table = answers.evidence(question, running.lab.declared_url)
    shown = [extras.html(markdown.markdown(table, extensions=["tables"]))] if table else []
    if question.id in FIGURES:
        svg = figures.timeline(question, FIGURES[question.id][1])
        if svg:
            shown.append(extras.html(svg))
    if with_logs:
        shown += [
            extras.text(text, name=f"journal {name}") for name, text in running.logs().items()
        ]
    return shown


def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None or run.running is None or not run.ready:
        return
    finished = datetime.now().astimezone()
    meta = {
        "started_at": run.started_at.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "finished_at_fr": finished.strftime("%d/%m/%Y à %H:%M"),
        "labcheck_version": __version__,
        "network_namespace": "privé (boucle locale seulement)" if run.isolated else "machine",
        **run.running.meta(),
    }
    from labcheck import report

    run.written = report.write(run.lab, run.questions, meta)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None or run.written is None:
        return
    write = terminalreporter.write_line
    terminalreporter.section("labcheck")
    for question in run.questions.values():
        for note in question.notes:
            write(f"{question.id} — remarque : {note}", yellow=True)
    if run.running is not None:
        for note in run.running.notes():
            write(note, yellow=True)
    written = run.written
    write(f"Rapport : {written.markdown}")
    write(f"Résultats : {written.results}")
    if written.kept:
        write(
            f"{written.kept} a été modifié à la main hors des zones de l'équipe : il n'a pas été "
            f"écrasé. Reportez vos modifications entre les marqueurs labcheck de "
            f"{written.markdown.name}, puis renommez-le en {written.kept.name}.",
            red=True,
        )
