"""Helpers for the harness's own tests: labs built from the reference, checks run for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from labcheck.network import Endpoint, ensure_free
from labcheck.processes import started_by

ROOT = Path(__file__).resolve().parent.parent
LABS = Path(__file__).parent / "labs"
APPS = Path(__file__).parent / "apps"


def build_lab(
    folder: Path,
    *,
    nginx_conf: str | None = None,
    apps: dict[str, str] | None = None,
    checks: dict[str, object] | None = None,
    ports: tuple[int, int, int] = (3000, 3001, 8181),
    hosts: tuple[str, str] = ("127.0.0.1", "127.0.0.1"),
) -> Path:
    """A lab folder like the embedded one, with some parts swapped; returns its lab.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "lab" / "app.py", folder / "app.py")
    conf = (LABS / nginx_conf if nginx_conf else ROOT / "lab" / "nginx.conf").read_text()
    # The confs name the embedded lab's addresses: keep them consistent with this lab.
    conf = conf.replace("127.0.0.1:3000", f"{hosts[0]}:{ports[0]}")
    conf = conf.replace("127.0.0.1:3001", f"{hosts[1]}:{ports[1]}")
    conf = conf.replace("listen 8181", f"listen {ports[2]}")
    (folder / "nginx.conf").write_text(conf)
    data = yaml.safe_load((ROOT / "lab.yaml").read_text())
    for name, host, port in zip("AB", hosts, ports[:2], strict=True):
        server = data["servers"][name]
        server.update(host=host, port=port, app="app.py")
        if apps and name in apps:
            shutil.copy(APPS / apps[name], folder / apps[name])
            server["app"] = apps[name]
    data["nginx"].update(host=hosts[0], port=ports[2], config="nginx.conf")
    if checks:
        data["checks"] = checks
    lab_yaml = folder / "lab.yaml"
    lab_yaml.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return lab_yaml


@dataclass
class Outcome:
    returncode: int
    output: str
    lab_yaml: Path
    pid: int

    @property
    def results(self) -> dict:
        return json.loads((self.lab_yaml.parent / "report" / "results.json").read_text())

    @property
    def statuses(self) -> dict[str, str]:
        return {q["id"]: q["status"] for q in self.results["questions"]}

    def question(self, qid: str) -> dict:
        return next(q for q in self.results["questions"] if q["id"] == qid)

    @property
    def rapport(self) -> str:
        return (self.lab_yaml.parent / "report" / "rapport.md").read_text()


def checks_command(lab_yaml: Path, *extra: str, free_ports: bool = True) -> list[str]:
    return [
        sys.executable, "-u", "-m", "pytest", str(ROOT / "checks"), "--lab", str(lab_yaml),
        *(["--free-ports"] if free_ports else []), "-p", "no:cacheprovider", "-q", *extra,
    ]  # fmt: skip


def run_checks(
    lab_yaml: Path, *extra: str, env: dict[str, str] | None = None, free_ports: bool = True
) -> Outcome:
    """``pytest checks/ --lab LAB`` in a child process, as a student would run it."""
    proc = subprocess.Popen(
        checks_command(lab_yaml, *extra, free_ports=free_ports),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    output, _ = proc.communicate(timeout=120)
    outcome = Outcome(proc.returncode, output, lab_yaml, proc.pid)
    assert leftovers(proc.pid) == [], "processes left behind"
    return outcome


def leftovers(pytest_pid: int) -> list[str]:
    """Live processes started by the labcheck run in process ``pytest_pid``."""
    return [" ".join(proc.cmdline()) for proc in started_by(pytest_pid)]


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    return tmp_path / "equipe"


def assert_ports_free(outcome: Outcome) -> None:
    """No socket listens any more on the ports the run used (TIME_WAIT is no listener)."""
    for name, endpoint in outcome.results["endpoints"].items():
        host, port = endpoint.rsplit(":", 1)
        ensure_free(name, Endpoint(host, int(port)))
