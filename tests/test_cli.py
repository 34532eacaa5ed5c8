"""The labcheck command: errors are one French line, `run` is `pytest checks/`."""

import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT, build_lab
from labcheck.network import free_port

LABCHECK = [sys.executable, "-c", "from labcheck.cli import main; main()"]


def test_validate_names_the_key(lab_dir: Path):
    lab_yaml = build_lab(lab_dir)
    lab_yaml.write_text(lab_yaml.read_text().replace("port: 8181", "port: -1"))
    result = subprocess.run(
        [*LABCHECK, "validate", "--lab", str(lab_yaml)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == f"Erreur : {lab_yaml}: nginx.port : entier entre 1 et 65535 attendu, reçu « -1 »\n"
    )


def test_run_is_pytest_checks(lab_dir: Path):
    lab_yaml = build_lab(lab_dir)
    result = subprocess.run(
        [*LABCHECK, "run", "--lab", str(lab_yaml), "--free-ports", "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert "4 passed" in result.stdout
    assert (lab_dir / "report" / "rapport.md").is_file()


def test_github_workflow_template_runs_the_checks_and_keeps_the_report():
    workflow = yaml.safe_load((ROOT / "labcheck" / "templates" / "github-workflow.yml").read_text())
    steps = workflow["jobs"]["verifier"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    assert "apt-get install -y nginx" in commands
    assert "pip install -e" in commands  # labcheck's checks/ live beside its package
    assert "labcheck run --lab lab.yaml" in commands
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "report/"


def test_nginx_renders_the_labs_config_from_lab_yaml(tmp_path):
    lab_yaml = ROOT / "tests" / "corpus" / "handout" / "lab.yaml"  # parsed, never contacted
    printed = subprocess.run(
        [*LABCHECK, "nginx", "--lab", str(lab_yaml)], capture_output=True, text=True
    )
    assert printed.returncode == 0, printed.stderr
    assert "server 172.20.10.2:3000;" in printed.stdout
    assert "server 172.20.10.13:3001;" in printed.stdout
    assert "listen 8181;" in printed.stdout
    written = tmp_path / "nginx.conf"
    subprocess.run([*LABCHECK, "nginx", "--lab", str(lab_yaml), "--output", str(written)])
    assert written.read_text() == printed.stdout


def port() -> int:
    return free_port("127.0.0.1")


def test_doctor_on_the_embedded_lab_finds_it_ready(lab_dir: Path):
    result = subprocess.run(
        [*LABCHECK, "doctor", "--lab", str(build_lab(lab_dir, ports=(port(), port(), port())))],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "✓ nginx " in result.stdout and " installé (" in result.stdout
    assert result.stdout.count("✓ port ") == 3, result.stdout
