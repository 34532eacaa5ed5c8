"""The fault suite: bad input never gives a traceback or a half-written report, nothing is
left behind by any run, and the embedded lab gives the same verdicts run after run.

The broken nginx.conf and app files of teams are in test_team_labs.py, each checked for a
one-line French diagnostic, a non-zero exit and a whole report (``assert_whole_report``).
"""

import shutil
from pathlib import Path

import pytest
from test_config_errors import CASES

from conftest import ROOT, assert_ports_free, build_lab, run_checks

FILE_CASES = {  # lab.yaml files no editor would save on purpose
    "binary file": (b"\x89PNG\r\n\x1a\n\x00\x00", "n'est pas un fichier texte UTF-8"),
    "latin-1, not UTF-8": ("lab: Déploiement\n".encode("latin-1"), "pas un fichier texte UTF-8"),
    "nul bytes": (b"course: x\x00\n", "octets nuls"),
}


def embedded(folder: Path) -> Path:
    """The embedded lab's files in ``folder``; its lab.yaml to be replaced."""
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "lab", folder / "lab")
    return folder / "lab.yaml"


def assert_refused_in_one_line(outcome, expected: str) -> None:
    assert outcome.returncode == 4, outcome.output  # pytest's usage error: not a check failure
    assert "Traceback" not in outcome.output
    errors = [line for line in outcome.output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and expected in errors[0], outcome.output
    assert not (outcome.lab_yaml.parent / "report").exists()  # no report, not half of one


BAD_LAB_YAML = {**{case: (text.encode(), e) for case, (text, e) in CASES.items()}, **FILE_CASES}


@pytest.mark.parametrize("case", BAD_LAB_YAML)
def test_bad_lab_yaml_stops_the_run_in_one_line(case, lab_dir):
    content, expected = BAD_LAB_YAML[case]
    lab_yaml = embedded(lab_dir)
    lab_yaml.write_bytes(content)
    assert_refused_in_one_line(run_checks(lab_yaml), expected)


def test_a_folder_named_lab_yaml_stops_the_run_in_one_line(lab_dir):
    lab_yaml = embedded(lab_dir)
    lab_yaml.mkdir()
    assert_refused_in_one_line(run_checks(lab_yaml), "lecture impossible")


@pytest.fixture
def machine_namespace(monkeypatch):
    # The ports are looked at from here: the runs must share this network namespace.
    monkeypatch.setenv("LABCHECK_ISOLATION", "off")


@pytest.mark.usefixtures("machine_namespace")
@pytest.mark.parametrize("conf", [None, "one_server.conf"], ids=["passing", "failing"])
def test_a_whole_run_leaves_no_process_and_no_port(lab_dir, conf):
    outcome = run_checks(build_lab(lab_dir, nginx_conf=conf))  # asserts no process is left
    assert outcome.returncode == (0 if conf is None else 1)
    assert_ports_free(outcome)


@pytest.mark.slow
def test_twenty_consecutive_runs_give_the_same_verdicts(tmp_path):
    for run in range(20):
        outcome = run_checks(build_lab(tmp_path / f"run{run}"))
        assert outcome.returncode == 0, f"run {run}:\n{outcome.output}"
        assert set(outcome.statuses.values()) == {"passed"}
        assert outcome.question("Q3")["facts"]["sequence"].count("A") == 10
