"""The report a team hands in: rapport.md with its figures, rapport.html in a real browser.

The browser is Debian's headless Chromium, driven through chromedriver (selenium), with
no network: the page is a local file and everything it shows is inside it.
"""

import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from conftest import build_lab, run_checks

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and DRIVER) and not os.environ.get("LABCHECK_BROWSER"),
    reason="chromium et chromium-driver absents (test.sh les installe)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    outcome = run_checks(build_lab(tmp_path_factory.mktemp("rapport") / "equipe"))
    assert outcome.returncode == 0, outcome.output
    return outcome.lab_yaml.parent / "report"


def test_rapport_md_shows_its_figures_as_github_would(report):
    rapport = (report / "rapport.md").read_text()
    for name in ("q3.svg", "q4.svg"):
        assert f"]({name})" in rapport  # a relative image link: GitHub shows the file
        svg = ET.parse(report / name).getroot()
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        marks = svg.findall(".//{http://www.w3.org/2000/svg}circle")
        assert len(marks) >= 20  # one per request to nginx
    q4 = (report / "q4.svg").read_text()
    assert "A arrêté" in q4 and "A redémarré" in q4
    assert "| Étape | Adresse | Résultat | Latence (médiane) | Serveur | Requêtes |" in rapport
    assert "### nginx tel qu'il a tourné" in rapport and "| worker_processes | 1 |" in rapport


def test_pytest_html_shows_the_same_evidence_for_each_check(report):
    page = (report / "pytest.html").read_text()
    assert page.count("Latence (m\\u00e9diane)") == 4  # each check's evidence table
    assert page.count("&lt;svg") == 2  # the figures of Q3 and Q4


@needs_browser
def test_rapport_html_in_chromium_shows_the_tables_and_the_figures(report, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", f"--user-data-dir={tmp_path / 'profil'}",
                 "--window-size=1280,4000"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        driver.get((report / "rapport.html").as_uri())
        tables = driver.find_elements(By.TAG_NAME, "table")
        figures = driver.find_elements(By.CSS_SELECTOR, "svg")
        assert len(tables) >= 5  # one per question, and nginx's
        assert len(figures) == 2
        for element in (*tables, *figures):
            assert element.is_displayed()
            assert element.size["width"] > 200 and element.size["height"] > 40
        assert "Q4 : les requêtes à nginx quand A est arrêté" in driver.page_source
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, height + 100)
        shot = tmp_path / "rapport.png"
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert shot.stat().st_size > 50_000  # a page of tables and figures, not a blank one
    shutil.copy(shot, report / "rapport.png")  # to look at, when the test ran by hand
