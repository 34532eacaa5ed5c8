"""A run that cannot start gives one French line, exit status 4, no traceback, no report.

These are the machine's problems (nginx missing, a port taken) and lab.yaml's. The team's
own files that do not start are reported by the checks: see test_team_labs.py.
"""

import socket

import pytest

from conftest import build_lab, run_checks
from labcheck.network import free_port


def assert_one_line_error(outcome, *expected):
    assert outcome.returncode == 4, outcome.output
    assert "Traceback" not in outcome.output
    errors = [line for line in outcome.output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, outcome.output
    for text in expected:
        assert text in errors[0]
    assert not (outcome.lab_yaml.parent / "report" / "rapport.md").exists()


def test_port_already_taken_is_named(lab_dir):
    ports = (free_port("127.0.0.1"), free_port("127.0.0.1"), free_port("127.0.0.1"))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[1]))
        squatter.listen()
        # In a private network namespace of its own, the run would not see this socket.
        isolation = {"LABCHECK_ISOLATION": "off"}
        outcome = run_checks(build_lab(lab_dir, ports=ports), free_ports=False, env=isolation)
    assert_one_line_error(outcome, f"port {ports[1]} (127.0.0.1) déjà occupé par « ", "Flask B")


def test_missing_nginx_says_how_to_install_it(lab_dir):
    outcome = run_checks(build_lab(lab_dir), env={"LABCHECK_NGINX": "/nulle/part/nginx"})
    assert_one_line_error(outcome, "nginx introuvable", "apt-get install -y nginx")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("port: 3001", "port: 30O1"), "servers.B.port : entier entre 1 et 65535 attendu"),
        (("control: local", "control: ssh"),
         "control : local, manual, ou {stop: commande, start: commande} attendu, reçu « ssh »"),
    ],
)  # fmt: skip
def test_invalid_lab_yaml_is_one_line(lab_dir, change, expected):
    lab_yaml = build_lab(lab_dir)
    lab_yaml.write_text(lab_yaml.read_text().replace(*change))
    outcome = run_checks(lab_yaml)
    assert_one_line_error(outcome, f"{lab_yaml}: {expected}")
