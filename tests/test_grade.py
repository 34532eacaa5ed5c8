"""labcheck grade: a class of submissions made for the tests, graded in one batch.

Each submission is the handout lab (``corpus/handout``) with what a team changed, and
what the team claims: a hand-written report, a labcheck report, or nothing.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from test_team_labs import UPSTREAM_A, team_lab

from conftest import ROOT, run_checks
from labcheck.polling import poll

LABCHECK = [sys.executable, "-c", "from labcheck.cli import main; main()"]
SEED = (ROOT / "tests" / "corpus" / "rapport-main.md").read_text()  # written by hand
POINTS = {"Q1": 10, "Q2": 20, "Q3": 30, "Q4": 40}
# Every process a batch starts inherits this marker: none may outlive the batch.
BATCH = {**os.environ, "LABCHECK_TEST_BATCH": f"test-grade-{os.getpid()}"}
HANG = "return '<h2>Hello, World! From SG: 172.20.10.2<h2>'"


def report(folder: Path, text: str) -> None:
    (folder / "report").mkdir(exist_ok=True)
    (folder / "report" / "rapport.md").write_text(text)


def submission(root: Path, name: str, *changes, quick: bool = False) -> Path:
    folder = root / name
    team_lab(folder, *changes, quick=quick)
    (folder / "labcluster.conf").unlink()
    return folder


def labcheck_results(folder: Path) -> dict:
    """The team ran labcheck: its report/ is what it submits."""
    outcome = run_checks(folder / "lab.yaml")
    return outcome.results


def build_class(root: Path, canary: Path) -> dict[str, Path]:
    subs = {}
    subs["main"] = submission(root, "main")
    report(subs["main"], SEED)

    subs["labcheck"] = submission(root, "labcheck", quick=True)
    labcheck_results(subs["labcheck"])

    subs["nginx_arrete"] = submission(root, "nginx_arrete")
    report(subs["nginx_arrete"], SEED.replace(
        "`http://172.20.10.2:8181/`  fonctionne toujours",
        "`http://172.20.10.2:8181/`  ne répond plus (nginx arrêté)",
    ))  # fmt: skip

    subs["ip_hash"] = submission(
        root, "ip_hash", ("nginx.conf", UPSTREAM_A, f"ip_hash; {UPSTREAM_A}")
    )
    report(subs["ip_hash"], SEED)

    subs["honnete"] = submission(root, "honnete", ("app_AAB.py", "port=3001", "port=3000"))
    report(subs["honnete"], (
        "### Q1\nA affiche son message, mais B ne répond pas sur 3001.\n"
        "### Q2\nA devient inaccessible.\n"
        "### Q3\nSeulement A répond via nginx.\n"
        "### Q4\n`http://172.20.10.2:8181/` fonctionne toujours.\n"
    ))  # fmt: skip

    subs["sans_rapport"] = submission(root, "sans_rapport")

    subs["retouche"] = submission(
        root,
        "retouche",
        ("nginx.conf", UPSTREAM_A, "server 172.20.10.2:3000 weight=3;"),
        quick=True,
    )
    results = labcheck_results(subs["retouche"])
    assert results["questions"][2]["status"] == "failed"
    results["questions"][2]["status"] = "passed"  # the team "fixed" its Q3
    (subs["retouche"] / "report" / "results.json").write_text(json.dumps(results))

    subs["modifiee_apres"] = submission(root, "modifiee_apres", quick=True)
    labcheck_results(subs["modifiee_apres"])
    app = subs["modifiee_apres"] / "app_SG.py"
    app.write_text(app.read_text().replace("From SG", "De SG"))  # changed after the run

    subs["bloquee"] = submission(
        root, "bloquee", ("app_SG.py", HANG, "import time; time.sleep(3600)")
    )
    report(subs["bloquee"], SEED)

    subs["malveillante"] = submission(
        root, "malveillante",
        ("nginx.conf", "worker_processes  1;",
         f"load_module /tmp/x.so;\nuser root;\nworker_processes 1;\nerror_log {canary}.err;"),
        ("nginx.conf", "keepalive_timeout  65;",
         f"keepalive_timeout 65;\n    include /etc/passwd;\n    access_log {canary}.log;"),
        ("lab.yaml", "control: local",
         f"control: {{A: {{start: touch {canary}}}}}\ncommands: {{avant: touch {canary}}}"),
    )  # fmt: skip
    report(subs["malveillante"], SEED)

    subs["fourche"] = submission(
        root, "fourche",
        ("app_AAB.py", "from flask import Flask",
         "import os, time\nif os.fork() == 0:\n    os.setsid(); time.sleep(3600)\n"
         "from flask import Flask"),
    )  # fmt: skip
    report(subs["fourche"], SEED)

    subs["deluge"] = submission(
        root, "deluge",
        ("app_SG.py", "from flask import Flask",
         "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\nfrom flask import Flask"),
    )  # fmt: skip
    report(subs["deluge"], SEED)

    subs["yaml_invalide"] = submission(
        root, "yaml_invalide", ("lab.yaml", "port: 3001", "port: 30O1")
    )
    subs["hors_soumission"] = submission(
        root, "hors_soumission", ("lab.yaml", "app: app_AAB.py", "app: ../main/app_AAB.py")
    )
    return subs


C, X, N, U = "confirmé", "contredit", "non déclaré", "non vérifiable"
EXPECTED = {  # verdicts Q1-Q4, and points
    "main": ((C, C, C, C), 100),
    "labcheck": ((C, C, C, C), 100),
    "nginx_arrete": ((C, C, C, X), 60),  # says 8181 stops answering: nginx was stopped
    "ip_hash": ((C, C, X, C), 70),
    "honnete": ((C, C, U, U), 20),  # B's failure reported as seen; Q3, Q4 need B
    "sans_rapport": ((N, N, N, N), 0),
    "retouche": ((C, C, X, C), 70),
    "modifiee_apres": ((C, C, C, C), 100),
    "bloquee": ((U, U, U, U), 0),
    "malveillante": ((C, C, C, C), 100),
    "fourche": ((C, C, C, C), 100),
    "deluge": ((X, U, U, U), 0),  # endless output: the size limit ends A, the batch goes on
    "yaml_invalide": ((U, U, U, U), 0),
    "hors_soumission": ((U, U, U, U), 0),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("classe")
    canary = root.parent / "canary"
    subs = build_class(root / "soumissions", canary)
    bareme = root / "bareme.yaml"
    bareme.write_text("points: {Q1: 10, Q2: 20, Q3: 30, Q4: 40}\n")
    out = root / "correction"
    result = subprocess.run(
        [*LABCHECK, "grade", *map(str, subs.values()), "--out", "correction", "--jobs", "2",
         "--timeout", "15", "--bareme", str(bareme)],
        capture_output=True, text=True, cwd=root, timeout=300, env=BATCH,
    )  # fmt: skip
    return result, out, canary, subs


def grade_of(out: Path, name: str) -> dict:
    return json.loads((out / name / "grade.json").read_text())


@pytest.mark.parametrize("name", EXPECTED)
def test_every_question_of_every_submission_gets_its_verdict(graded, name):
    result, out, _, _ = graded
    assert result.returncode == 0, result.stderr
    verdicts, total = EXPECTED[name]
    grade = grade_of(out, name)
    assert tuple(v["verdict"] for v in grade["verdicts"]) == verdicts, grade
    assert grade["total"] == total
    assert (out / name / "retour.md").is_file()
    if grade["status"] == "notée":
        assert (out / name / "pytest.html").stat().st_size > 10_000


def test_notes_csv_has_a_row_per_submission(graded):
    _, out, _, _ = graded
    lines = (out / "notes.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].split(";")[:8] == [
        "soumission",
        "statut",
        "Q1",
        "Q2",
        "Q3",
        "Q4",
        "total",
        "sur",
    ]
    rows = {line.split(";")[0]: line.split(";") for line in lines[1:]}
    assert set(rows) == set(EXPECTED)
    assert rows["nginx_arrete"][2:8] == ["10", "20", "30", "0", "60", "100"]
    assert rows["bloquee"][1].startswith("non notable : délai dépassé (15 s)")
    assert rows["yaml_invalide"][1] == (
        "non notable : lab.yaml: servers.B.port : entier entre 1 et 65535 attendu, reçu « 30O1 »"
    )
    assert "hors de la soumission" in rows["hors_soumission"][1]


def test_feedback_quotes_the_claim_and_shows_the_observation(graded):
    _, out, _, _ = graded
    retour = (out / "nginx_arrete" / "retour.md").read_text()
    assert "« - `http://172.20.10.2:8181/`  ne répond plus (nginx arrêté) »" in retour
    assert "**contredit** : votre réponse dit « non conforme »" in retour
    ip_hash = (out / "ip_hash" / "retour.md").read_text()
    assert "`ip_hash` épingle chaque client" in ip_hash


def test_a_hand_edited_results_json_is_flagged(graded):
    _, out, _, _ = graded
    grade = grade_of(out, "retouche")
    assert grade["claims_source"] == "results.json"
    assert "results.json a été modifié après avoir été écrit par labcheck" in grade["flags"]
    assert grade_of(out, "labcheck")["flags"] == []
    assert grade_of(out, "modifiee_apres")["flags"] == [
        "results.json a été produit avec un autre app_SG.py : le fichier remis diffère"
    ]


def test_nothing_from_a_malicious_submission_runs_or_writes_outside(graded):
    _, out, canary, _ = graded
    assert list(canary.parent.glob(canary.name + "*")) == []  # no command, no log out there
    notes = " ".join(grade_of(out, "malveillante")["notes"])
    for what in (
        "« commands »",
        "« control »",
        "« load_module /tmp/x.so »",
        "« user root »",
        "« include /etc/passwd »",
        f"« access_log {canary}.log »",
    ):
        assert what in notes, what


def test_a_flood_of_output_ends_the_process_not_the_disk(graded):
    _, out, _, _ = graded
    q1 = grade_of(out, "deluge")["verdicts"][0]
    assert "Flask A n'a pas démarré : app_SG.py a été arrêté par SIGXFSZ" in q1["diagnostic"]


def assert_nothing_outlives_the_batch() -> None:
    for proc in psutil.process_iter():
        try:
            marker = proc.environ().get("LABCHECK_TEST_BATCH")
        except psutil.Error:
            continue
        assert marker != BATCH["LABCHECK_TEST_BATCH"], proc.cmdline()


def test_no_process_outlives_the_batch(graded):
    assert_nothing_outlives_the_batch()


def test_ctrl_c_keeps_the_rows_already_written(tmp_path):
    subs = [submission(tmp_path / "s", name) for name in ("a", "b", "c", "d")]
    out = tmp_path / "correction"
    proc = subprocess.Popen(
        [*LABCHECK, "grade", *map(str, subs), "--out", str(out), "--jobs", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=BATCH,
    )  # fmt: skip
    notes = out / "notes.csv"

    def rows_written() -> int:
        return len(notes.read_text().splitlines()) if notes.exists() else 0

    assert poll(rows_written, lambda n: n >= 2, timeout=60, interval=0.02) >= 2  # one row
    assert proc.poll() is None  # still grading the others
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    rows = notes.read_text(encoding="utf-8-sig").splitlines()
    assert 2 <= len(rows) < 5 and rows[1].split(";")[0] == "a"
    assert_nothing_outlives_the_batch()
