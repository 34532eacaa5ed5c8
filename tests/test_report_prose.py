"""The team's prose survives every regeneration; a hand-edited report is never overwritten."""

from conftest import build_lab
from labcheck import report
from labcheck.config import load_lab
from labcheck.evidence import Question
from labcheck.probes import Observation

META = {
    "labcheck_version": "test",
    "nginx_version": "1.22.1",
    "finished_at_fr": "03/12/2026 à 10:00",
}


def _questions():
    q1 = Question("Q1", status="passed")
    for name, port in (("A", 3000), ("B", 3001)):
        q1.observations.append(
            Observation(name, f"http://127.0.0.1:{port}/", "t", 1.0, status=200,
                        body=f"<h2>Hello from {name}</h2>", server=name, label="direct")
        )  # fmt: skip
    q2 = Question("Q2", status="failed", diagnostic="A ne répondait pas")
    return {"Q1": q1, "Q2": q2}


def test_prose_is_kept_word_for_word(lab_dir):
    lab = load_lab(build_lab(lab_dir))
    first = report.write(lab, _questions(), META)
    text = first.markdown.read_text()
    prose = "Nous avons *vraiment* appris\n\nà configurer nginx — avec `upstream`."
    text = text.replace("*À rédiger par l'équipe : ce que vous avez appris.*", prose)
    text = text.replace(
        "<!-- labcheck:debut autres (vos propres sections, conservées à chaque régénération) -->\n",
        "<!-- labcheck:debut autres (vos propres sections) -->\n## Annexe\n\nCaptures.\n",
    )
    first.markdown.write_text(text)

    again = report.write(lab, _questions(), {**META, "finished_at_fr": "04/12/2026 à 11:00"})

    assert again.kept is None and again.markdown == first.markdown
    regenerated = again.markdown.read_text()
    assert prose in regenerated
    assert "## Annexe\n\nCaptures." in regenerated
    assert "04/12/2026 à 11:00" in regenerated
    assert not report.edited_by_hand(regenerated)
    html = again.html.read_text()  # every word in the page handed in, too
    for words in ("Nous avons <em>vraiment</em> appris", "<code>upstream</code>",
                  "<h2>Annexe</h2>", "Captures."):  # fmt: skip
        assert words in html, words


def test_report_edited_outside_the_markers_is_left_alone(lab_dir):
    lab = load_lab(build_lab(lab_dir))
    first = report.write(lab, _questions(), META)
    edited = first.markdown.read_text().replace("Réponses aux questions", "Nos réponses")
    first.markdown.write_text(edited)

    again = report.write(lab, _questions(), META)

    assert again.kept == first.markdown
    assert first.markdown.read_text() == edited
    assert again.markdown.name == "rapport.nouveau.md"


def test_a_report_written_before_labcheck_is_left_alone(lab_dir):
    lab = load_lab(build_lab(lab_dir))
    handwritten = lab_dir / "report" / "rapport.md"
    handwritten.parent.mkdir()
    handwritten.write_text("# Notre rapport\n\nÉcrit à la main.\n")

    written = report.write(lab, _questions(), META)

    assert handwritten.read_text() == "# Notre rapport\n\nÉcrit à la main.\n"
    assert written.markdown.name == "rapport.nouveau.md"


def test_failed_check_is_reported_as_observed(lab_dir):
    lab = load_lab(build_lab(lab_dir))
    text = report.write(lab, _questions(), META).markdown.read_text()
    q2 = text.split("### Q2 ")[1].split("###")[0]
    assert "**Vérification échouée** : A ne répondait pas" in q2
    assert "Cela signifie" not in q2
    q3 = text.split("### Q3 ")[1].split("###")[0]
    assert "*Non vérifié : cette vérification n'a pas été exécutée.*" in q3


def test_server_text_cannot_break_the_markdown(lab_dir):
    lab = load_lab(build_lab(lab_dir))
    questions = _questions()
    questions["Q1"].observations[0].body = "<h2>**Hello** `from` <!-- A --></h2>"
    text = report.write(lab, questions, META).markdown.read_text()
    assert "« \\*\\*Hello\\*\\* \\`from\\` »" in text
    questions["Q1"].observations[0].body = "&lt;script&gt;alert(1)&lt;/script&gt;"
    written = report.write(lab, questions, META)
    assert "<script>" not in written.html.read_text()  # a greeting is text, never HTML
