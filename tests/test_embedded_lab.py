"""The main job: the embedded lab passes Q1-Q4 and the report tells what was observed."""

from conftest import build_lab, run_checks


def test_reference_lab_passes_and_writes_the_report(lab_dir):
    outcome = run_checks(build_lab(lab_dir))
    assert outcome.returncode == 0, outcome.output
    assert outcome.statuses == {"Q1": "passed", "Q2": "passed", "Q3": "passed", "Q4": "passed"}

    q3 = outcome.question("Q3")
    assert q3["facts"]["sequence"].count("A") == q3["facts"]["sequence"].count("B") == 10
    q4 = outcome.question("Q4")
    through = [o for o in q4["observations"] if o["target"] == "nginx" and o["label"] == "A arrêté"]
    assert len(through) == 20 and {o["server"] for o in through} == {"B"}
    assert q4["facts"]["recovery_A_s"] is not None

    rapport = outcome.rapport
    assert "### Q3 (consigne 16) : Que se passe-t-il via Nginx ?" in rapport
    assert "Hello, World! venant de SG à l'adresse 127.0.0.1:3000" in rapport
    assert "devient inaccessible : connexion refusée" in rapport
    assert "4 vérification(s) réussie(s) sur 4" in rapport
    assert (lab_dir / "report" / "pytest.html").stat().st_size > 10_000

    results = outcome.results
    assert set(results["digests"]) == {"lab.yaml", "app.py", "nginx.conf"}
    assert results["nginx_version"][0].isdigit()
