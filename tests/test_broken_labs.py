"""Each check can fail: a lab broken for a question fails exactly that question, in French.

The mistakes teams make are in test_team_labs.py; these are the reference lab, broken.
"""

import pytest

from conftest import build_lab, run_checks

BROKEN = {
    "one_server": (
        {"nginx_conf": "one_server.conf"},
        {"Q3": "seul A a répondu", "Q4": "ne liste qu'un serveur"},
    ),
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_lab_fails_exactly_its_questions(name, lab_dir):
    options, failures = BROKEN[name]
    outcome = run_checks(build_lab(lab_dir, **options))

    assert outcome.returncode == 1, outcome.output
    failed = {qid for qid, status in outcome.statuses.items() if status == "failed"}
    assert failed == set(failures), outcome.output
    for qid, diagnostic in failures.items():
        assert diagnostic in outcome.question(qid)["diagnostic"]
        assert diagnostic in outcome.output  # the failing check says it on the terminal
        section = outcome.rapport.split(f"### {qid} ")[1].split("###")[0]
        assert "**Vérification échouée**" in section  # reported as seen, not as expected
        assert "Cela " not in section  # no conclusion sentence for a failed check


def test_next_upstream_off_report_shows_the_502s(lab_dir):
    outcome = run_checks(build_lab(lab_dir, nginx_conf="next_upstream_off.conf"))
    q4 = outcome.rapport.split("### Q4 ")[1]
    assert "HTTP 502" in q4
    assert "requêtes réussies sur 20" in q4


def test_server_ignoring_ctrl_c_is_killed_and_the_report_says_so(lab_dir):
    lab_yaml = build_lab(lab_dir, apps={"A": "stubborn.py"}, checks={"stop_grace": 0.5})
    outcome = run_checks(lab_yaml)

    assert outcome.returncode == 0, outcome.output
    q2 = outcome.question("Q2")
    assert q2["facts"]["stops"][0]["signal"] == "SIGINT puis SIGKILL"
    assert "n'a pas réagi à Ctrl+C (SIGINT)" in q2["notes"][0]
    assert "n'a pas réagi à Ctrl+C" in outcome.output
    assert "SIGINT puis SIGKILL" in outcome.rapport
