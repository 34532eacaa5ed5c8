"""Nothing leaks: no process and no port left after a passing, failing, -x or interrupted run."""

import os
import signal
import subprocess

import psutil
import pytest

from conftest import (
    ROOT,
    Outcome,
    assert_ports_free,
    build_lab,
    checks_command,
    leftovers,
    run_checks,
)
from labcheck.config import load_lab
from labcheck.local import LocalLab
from labcheck.network import ensure_free
from labcheck.polling import poll


@pytest.fixture(autouse=True)
def machine_namespace(monkeypatch):
    # The ports are looked at from here: the runs must share this network namespace.
    monkeypatch.setenv("LABCHECK_ISOLATION", "off")


def test_failing_run_with_x_leaves_nothing_and_a_whole_report(lab_dir):
    outcome = run_checks(build_lab(lab_dir, nginx_conf="one_server.conf"), "-x")
    assert outcome.returncode == 1
    assert outcome.statuses == {"Q1": "passed", "Q2": "passed", "Q3": "failed", "Q4": "not-run"}
    assert "*Non vérifié : cette vérification n'a pas été exécutée.*" in outcome.rapport
    assert_ports_free(outcome)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_during_q4_leaves_nothing(lab_dir, sig):
    # A ignores Ctrl+C, so stopping it takes the whole grace period: the signal lands in Q4.
    lab_yaml = build_lab(lab_dir, apps={"A": "stubborn.py"}, checks={"stop_grace": 2})
    proc = subprocess.Popen(
        checks_command(lab_yaml, "-vv"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = ""
    while "test_q4_failover" not in seen:
        char = proc.stdout.read(1)
        assert char, seen
        seen += char
    proc.send_signal(sig)  # Q4 has begun: its first requests, or the 2 s stop of A
    output = seen + proc.communicate(timeout=60)[0]

    assert proc.returncode == 2, output  # pytest's "interrupted"
    assert "Traceback" not in output
    assert leftovers(proc.pid) == []
    results = Outcome(proc.returncode, output, lab_yaml, proc.pid)
    assert results.statuses["Q4"] == "not-run"
    assert results.rapport.rstrip().endswith("-->")  # written whole, fingerprint last
    assert_ports_free(results)


def test_flask_debug_reloader_goes_with_its_whole_group(lab_dir):
    lab = load_lab(build_lab(lab_dir, apps={"A": "reloader.py"}))
    with LocalLab(lab, free_ports=True) as running:
        service = running.services["A"]
        pgid = service._executor.process.pid
        # The reloader binds the port itself, then forks the server: wait for both.
        assert (
            len(poll(lambda: _group(pgid), lambda g: len(g) >= 2, timeout=10)) >= 2
        )  # the reloader and the server it forked
        report = running.stop("A")
        assert not report.escalated
        assert _group(pgid) == []
        ensure_free("A", running.endpoint("A"))


def _group(pgid):
    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            pass
    return found
