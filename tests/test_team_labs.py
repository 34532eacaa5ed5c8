"""Teams' own labs, handout-shaped, run as written: right verdicts, right French diagnostic.

``corpus/handout/`` is a correct lab built exactly like the handout: one app file per
member with hard-coded greetings and private IPs, ``debug=True``, the stock nginx.conf
with ``try_files``, ``include mime.types`` and ``worker_processes 1``. Every other lab
is that one with the change a real team made. Nothing is ever sent to their addresses:
labcheck runs them on loopback.
"""

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run_checks

CORPUS = Path(__file__).parent / "corpus"
PASS = {"Q1": None, "Q2": None, "Q3": None, "Q4": None}


def team_lab(folder: Path, *changes: tuple[str, str, str], quick: bool = True) -> Path:
    """The handout lab in ``folder``, with each (file, old, new) change applied.

    ``quick``: measure nginx's return to A for 0.5 s only (its default fail_timeout is 10 s).
    """
    shutil.copytree(CORPUS / "handout", folder)
    shutil.copy(CORPUS / "labcluster.conf", folder)
    for name, old, new in changes:
        path = folder / name
        text = path.read_text()
        assert old in text, (name, old)
        path.write_text(text.replace(old, new))
    lab_yaml = folder / "lab.yaml"
    if quick:
        data = yaml.safe_load(lab_yaml.read_text())
        data["checks"] = {"recovery_timeout": 0.5}
        lab_yaml.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return lab_yaml


def line_of(folder: Path, name: str, text: str) -> int:
    lines = (folder / name).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


UPSTREAM_A = "server 172.20.10.2:3000;"
UPSTREAM_B = "server 172.20.10.13:3001;"
B_FAILS = "précondition non remplie : B ne répond pas"

LABS = {
    "handout": ((), PASS),
    "workers4_no_zone": ((("nginx.conf", "worker_processes  1;", "worker_processes  4;"),), PASS),
    "confd_snippet": ((("lab.yaml", "config: nginx.conf", "config: labcluster.conf"),), PASS),
    "hostnames": (
        (
            ("lab.yaml", "172.20.10.2", "pc-siba"),
            ("lab.yaml", "172.20.10.13", "pc-adama.local"),
            ("nginx.conf", UPSTREAM_A, "server pc-siba:3000;"),
            ("nginx.conf", UPSTREAM_B, "server pc-adama.local:3001;"),
        ),
        PASS,
    ),
    "import_error": (
        (("app_AAB.py", "from flask import Flask", "from flask import flask"),),
        {
            "Q1": "Flask B n'a pas démarré : app_AAB.py, ligne 1 : ImportError: cannot import "
            "name 'flask' from 'flask'",
            "Q2": None,
            "Q3": "impossible d'attribuer les réponses : B ne répond pas",
            "Q4": B_FAILS,
        },
    ),
    "b_never_calls_run": (
        (("app_AAB.py", "app.run(host='0.0.0.0', port=3001, debug=True)", "pass"),),
        {
            "Q1": "Flask B n'a pas démarré : app_AAB.py s'est terminé sans lancer de serveur",
            "Q2": None,
            "Q3": "impossible d'attribuer les réponses : B ne répond pas",
            "Q4": B_FAILS,
        },
    ),
    "app_syntax_error": (
        (("app_AAB.py", "def hello_world():", "def hello_world()"),),
        {
            "Q1": "Flask B n'a pas démarré : app_AAB.py, ligne 7 : SyntaxError: expected ':'",
            "Q2": None,
            "Q3": "impossible d'attribuer les réponses : B ne répond pas",
            "Q4": B_FAILS,
        },
    ),
    "app_raises_at_start": (
        (("app_AAB.py", "app = Flask(__name__)", "app = Flask(__name__)\n1 / 0"),),
        {
            "Q1": "app_AAB.py, ligne 4 : ZeroDivisionError: division by zero",
            "Q2": None,
            "Q3": "impossible d'attribuer les réponses : B ne répond pas",
            "Q4": B_FAILS,
        },
    ),
    "app_exits_at_start": (
        (("app_AAB.py", "app = Flask(__name__)", "import sys\nsys.exit(3)"),),
        {
            "Q1": "Flask B n'a pas démarré : le processus s'est arrêté (code 3)",
            "Q2": None,
            "Q3": "impossible d'attribuer les réponses : B ne répond pas",
            "Q4": B_FAILS,
        },
    ),
    "a_answers_500": (
        (("app_SG.py", "return '<h2>Hello", "return '<h2>Erreur</h2>', 500 #"),),
        {
            "Q1": "A ne répond pas correctement (http://172.20.10.2:3000/ : HTTP 500)",
            "Q2": "précondition non remplie : A ne répond pas correctement avant l'arrêt",
            "Q3": "impossible d'attribuer les réponses : A ne répond pas correctement",
            "Q4": "précondition non remplie : A ne répond pas correctement",
        },
    ),
    "same_greeting": (
        (("app_AAB.py", "From AAB: 172.20.10.13</h2>", "From SG: 172.20.10.2<h2>"),),
        {
            "Q1": "A et B répondent le même message « Hello, World! From SG: 172.20.10.2 »",
            "Q2": None,
            "Q3": "impossible d'attribuer les réponses : A et B répondent le même message",
            "Q4": "précondition non remplie : A et B répondent le même message",
        },
    ),
    "b_on_port_3000": (
        (("app_AAB.py", "port=3001", "port=3000"),),
        {
            "Q1": "B ne répond pas (http://172.20.10.13:3001/ : connexion refusée) : app_AAB.py "
            "demande app.run(host='0.0.0.0', port=3000), mais lab.yaml déclare B sur "
            "172.20.10.13:3001 : rien n'écoute sur le port 3001. Mettez port=3001",
            "Q2": None,
            "Q3": "impossible d'attribuer les réponses : B ne répond pas",
            "Q4": B_FAILS,
        },
    ),
    "upstream_both_on_3001": (
        (("nginx.conf", UPSTREAM_A, "server 172.20.10.2:3001;"),),
        {
            "Q1": None,
            "Q2": None,
            "Q3": "seul B a répondu via nginx (A 0, B 20 sur 20) : aucune entrée de l'upstream "
            "« labcluster » ne vise A (172.20.10.2:3000) ; 172.20.10.2:3001 ne correspond à "
            "aucun serveur déclaré",
            "Q4": None,  # A stopped, B answers everything: the team's network gives the same
        },
    ),
    "upstream_unknown_address": (
        (("nginx.conf", UPSTREAM_B, "server 172.20.10.14:3001;"),),
        {
            "Q1": None,
            "Q2": None,
            "Q3": "seul A a répondu via nginx (A 20, B 0 sur 20) : aucune entrée de l'upstream "
            "« labcluster » ne vise B (172.20.10.13:3001) ; 172.20.10.14:3001 ne correspond",
            "Q4": "HTTP 502) après l'arrêt de A : aucune entrée de l'upstream « labcluster » "
            "ne vise B",
        },
    ),
    "nginx_listens_8080": (
        (("nginx.conf", "listen 8181 default_server;", "listen 8080 default_server;"),),
        {
            "Q1": None,
            "Q2": None,
            "Q3": "20 requête(s) sur 20 ont échoué via nginx (20× connexion refusée) : "
            "nginx.conf n'écoute pas sur le port déclaré 8181 (listen 8080, listen 80)",
            "Q4": "nginx.conf n'écoute pas sur le port déclaré 8181",
        },
    ),
    "nginx_listens_on_localhost": (
        (("nginx.conf", "listen 8181 default_server;", "listen 127.0.0.1:8181;"),),
        {
            "Q1": None,
            "Q2": None,
            "Q3": "nginx.conf n'écoute sur le port 8181 que sur 127.0.0.1 (listen "
            "127.0.0.1:8181) : les autres machines ne le joignent pas",
            "Q4": "nginx.conf n'écoute sur le port 8181 que sur 127.0.0.1",
        },
    ),
    "flask_on_localhost": (
        (("app_SG.py", "host='0.0.0.0'", "host='127.0.0.1'"),),
        {
            "Q1": "A ne répond pas (http://172.20.10.2:3000/ : connexion refusée) : app_SG.py "
            "demande app.run(host='127.0.0.1', port=3000) : Flask n'écoute alors que sur sa "
            "propre machine",
            "Q2": "précondition non remplie : A ne répond pas avant l'arrêt",
            "Q3": "impossible d'attribuer les réponses : A ne répond pas",
            "Q4": "précondition non remplie : A ne répond pas",
        },
    ),
    "flask_on_another_address": (
        (("app_SG.py", "host='0.0.0.0'", "host='172.20.10.13'"),),
        {
            "Q1": "app_SG.py demande app.run(host='172.20.10.13', port=3000), mais "
            "172.20.10.13 n'est pas une adresse de la machine de A (172.20.10.2)",
            "Q2": "précondition non remplie : A ne répond pas avant l'arrêt",
            "Q3": "Mettez host='0.0.0.0'",
            "Q4": "précondition non remplie : A ne répond pas",
        },
    ),
    "nginx_upstream_without_servers": (
        (("nginx.conf", f"{UPSTREAM_A}\n        {UPSTREAM_B}", "# A et B oubliés"),),
        {
            "Q1": None,
            "Q2": None,
            "Q3": "nginx n'a pas démarré : nginx.conf : nginx refuse cette configuration "
            "(nginx -t) : [emerg] no servers are inside upstream (nginx.conf, ligne 29)",
            "Q4": "nginx n'a pas démarré",
        },
    ),
    "nginx_listens_on_another_machine": (
        (("nginx.conf", "listen 8181 default_server;", "listen 172.20.10.13:8181;"),),
        {
            "Q1": None,
            "Q2": None,
            "Q3": "listen 172.20.10.13:8181 : cette adresse n'est pas celle de la machine de "
            "nginx (172.20.10.2) ; nginx refuserait de démarrer",
            "Q4": "nginx n'a pas démarré",
        },
    ),
    "ip_hash": (
        (("nginx.conf", UPSTREAM_A, f"ip_hash;\n        {UPSTREAM_A}"),),
        {"Q1": None, "Q2": None, "Q3": "`ip_hash` épingle chaque client", "Q4": None},
    ),
    "backup": (
        (("nginx.conf", UPSTREAM_B, "server 172.20.10.13:3001 backup;"),),
        {"Q1": None, "Q2": None, "Q3": "172.20.10.13:3001 est marqué `backup`", "Q4": None},
    ),
    "weight": (
        (("nginx.conf", UPSTREAM_A, "server 172.20.10.2:3000 weight=3;"),),
        {"Q1": None, "Q2": None, "Q3": "`weight` fausse la répartition", "Q4": None},
    ),
}


@pytest.mark.parametrize("name", LABS)
def test_team_lab_verdicts_and_diagnostics(name, lab_dir):
    changes, expected = LABS[name]
    outcome = run_checks(team_lab(lab_dir, *changes))

    verdicts = {qid: "failed" if text else "passed" for qid, text in expected.items()}
    assert outcome.statuses == verdicts, outcome.output
    assert outcome.returncode == (1 if any(expected.values()) else 0)
    for qid, text in expected.items():
        if text:
            assert text in outcome.question(qid)["diagnostic"], outcome.output
            assert text.splitlines()[0][:60] in outcome.output  # said on the terminal too
    assert_whole_report(outcome)


def assert_whole_report(outcome) -> None:
    """No traceback, one line per diagnostic, and every report file written whole."""
    assert "Traceback" not in outcome.output
    for question in outcome.results["questions"]:
        assert "\n" not in (question["diagnostic"] or ""), question["diagnostic"]
    assert outcome.rapport.rstrip().endswith("(générée, ne pas retoucher) -->")
    report = outcome.lab_yaml.parent / "report"
    assert (report / "rapport.html").read_text().rstrip().endswith("</html>")
    assert not list(report.glob(".*.tmp"))  # no write left half-way


def test_handout_lab_records_what_the_files_asked_for(lab_dir):
    outcome = run_checks(team_lab(lab_dir))
    results = outcome.results
    assert results["bindings"]["A"]["asked"] == "0.0.0.0:3000"
    assert results["bindings"]["B"]["asked"] == "0.0.0.0:3001"
    assert results["machines"] == {"172.20.10.2": "127.0.0.2", "172.20.10.13": "127.0.0.3"}
    assert "172.20.10.2 → 127.0.0.2" in outcome.rapport
    assert "http://172.20.10.13:3001/" in outcome.rapport  # the team's address, not ours


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("proxy_pass http://labcluster;", "proxy_pas http://labcluster;"),
         'unknown directive "proxy_pas" (nginx.conf, ligne {line})'),
        (("proxy_pass http://labcluster;", "proxy_pass http://labclustr;"),
         'nginx.conf: ligne {line} : « proxy_pass http://labclustr » : « labclustr » n\'est ni '
         'un upstream de la configuration ni une machine de lab.yaml'),
        (("listen 8181 default_server;", "listen 8181 default_server"),
         "nginx.conf: ligne {line} : erreur de syntaxe nginx"),
    ],
)  # fmt: skip
def test_nginx_conf_errors_name_the_teams_line(lab_dir, change, expected):
    outcome = run_checks(team_lab(lab_dir, ("nginx.conf", *change)))

    line = line_of(lab_dir, "nginx.conf", change[1])
    diagnostic = outcome.question("Q3")["diagnostic"]
    assert "nginx n'a pas démarré" in diagnostic
    assert expected.format(line=line) in diagnostic, diagnostic
    assert outcome.statuses == {"Q1": "passed", "Q2": "passed", "Q3": "failed", "Q4": "failed"}
    assert_whole_report(outcome)


def test_b_taking_port_3000_on_as_machine_is_named_whoever_wins(lab_dir):
    # Both servers on one machine, B kept port 3000: whichever starts first gets the port,
    # as on the team's machine. The diagnostic names B's file either way.
    outcome = run_checks(
        team_lab(
            lab_dir,
            ("lab.yaml", "host: 172.20.10.13", "host: 172.20.10.2"),
            ("nginx.conf", UPSTREAM_B, "server 172.20.10.2:3001;"),
            ("app_AAB.py", "port=3001", "port=3000"),
        )
    )
    q1 = outcome.question("Q1")
    assert q1["status"] == "failed"
    assert "Mettez port=3001 dans app_AAB.py" in q1["diagnostic"], q1["diagnostic"]
    assert outcome.statuses["Q3"] == "failed"


def test_files_saved_on_windows_run_the_same(lab_dir):
    # CRLF line endings everywhere, and the UTF-8 signature (BOM) some editors add.
    lab_yaml = team_lab(lab_dir)
    for name in ("app_SG.py", "app_AAB.py", "nginx.conf"):
        path = lab_dir / name
        bom = b"\xef\xbb\xbf" if name.endswith(".py") else b""
        path.write_bytes(bom + path.read_bytes().replace(b"\n", b"\r\n"))
    outcome = run_checks(lab_yaml)
    assert outcome.returncode == 0, outcome.output


def test_nginx_conf_with_a_bom_is_refused_as_nginx_would(lab_dir):
    lab_yaml = team_lab(lab_dir)
    conf = lab_dir / "nginx.conf"
    conf.write_bytes(b"\xef\xbb\xbf" + conf.read_bytes())
    outcome = run_checks(lab_yaml)
    assert outcome.statuses == {"Q1": "passed", "Q2": "passed", "Q3": "failed", "Q4": "failed"}
    assert (
        "nginx.conf: ligne 1 : le fichier commence par une signature UTF-8 (BOM)"
        in (outcome.question("Q3")["diagnostic"])
    )


def test_conf_d_layout_is_read_in_place_and_errors_name_the_included_file(lab_dir):
    # nginx.conf includes conf.d/*.conf, where the team keeps its upstream and server.
    lab_yaml = team_lab(lab_dir, ("lab.yaml", "config: nginx.conf", "config: main.conf"))
    (lab_dir / "conf.d").mkdir()
    shutil.move(lab_dir / "labcluster.conf", lab_dir / "conf.d" / "labcluster.conf")
    (lab_dir / "main.conf").write_text(
        "events {}\nhttp {\n    include /etc/nginx/mime.types;\n    include conf.d/*.conf;\n"
        "    include /etc/nginx/sites-enabled/*;\n}\n"
    )
    assert run_checks(lab_yaml).returncode == 0

    snippet = lab_dir / "conf.d" / "labcluster.conf"
    snippet.write_text(snippet.read_text().replace("proxy_pass", "proxy_pas"))
    line = line_of(lab_dir / "conf.d", "labcluster.conf", "proxy_pas")
    outcome = run_checks(lab_yaml)
    assert f'"proxy_pas" (labcluster.conf, ligne {line})' in outcome.question("Q3")["diagnostic"]
