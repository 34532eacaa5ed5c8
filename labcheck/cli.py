"""The ``labcheck`` command: run the checks of a lab, or validate its lab.yaml."""

from __future__ import annotations

import sys

import click

from labcheck.errors import LabcheckError


class LabcheckUsageError(click.ClickException):
    """A one-line French error, with no traceback."""

    def show(self, file: object = None) -> None:
        click.echo(f"Erreur : {self.format_message()}", err=True)


@click.group(help="Vérifications automatiques du laboratoire Flask + nginx (6GEI311).")
@click.version_option(package_name="labcheck", message="labcheck %(version)s")
def main() -> None:
    pass


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    help="Démarre le laboratoire, lance les vérifications Q1-Q4 et écrit report/rapport.md. "
    "Les options en plus sont passées à pytest (ex. -x, -v).",
)
@click.option("--lab", "lab_path", default="lab.yaml", show_default=True, help="le lab.yaml")
@click.pass_context
def run(ctx: click.Context, lab_path: str) -> None:
    import pytest

    from labcheck import CHECKS_DIR

    if not CHECKS_DIR.is_dir():
        raise LabcheckUsageError(f"dossier des vérifications introuvable : {CHECKS_DIR}")
    sys.exit(pytest.main([str(CHECKS_DIR), "--lab", lab_path, *ctx.args]))


@main.command(
    help="Corrige des soumissions : relance les vérifications sur chacune et confronte les "
    "réponses de l'équipe à ce qui est observé. Écrit notes.csv et, par soumission, "
    "retour.md et grade.json."
)
@click.argument(
    "submissions", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False)
)
@click.option("--out", default="correction", show_default=True, help="dossier des résultats")
@click.option(
    "--jobs", type=click.IntRange(1, 64), default=None, help="soumissions à la fois [nb de cœurs]"
)
@click.option(
    "--timeout", type=click.FloatRange(5, 3600), default=120, show_default=True,
    help="limite de temps par soumission, en secondes",
)  # fmt: skip
@click.option("--bareme", type=click.Path(exists=True, dir_okay=False), help="barème (YAML)")
def grade(
    submissions: tuple[str, ...], out: str, jobs: int | None, timeout: float, bareme: str | None
) -> None:
    import os
    import time
    from pathlib import Path

    from labcheck import grading

    try:
        scale = grading.load_scale(Path(bareme) if bareme else None)
    except LabcheckError as e:
        raise LabcheckUsageError(str(e)) from None
    folders = [Path(s) for s in submissions]
    batch = grading.Batch(Path(out), scale, timeout, jobs or os.cpu_count() or 1)
    began = time.monotonic()
    with click.progressbar(
        length=len(folders), label="Correction", show_pos=True, file=sys.stderr
    ) as bar:
        graded = batch.run(folders, done=lambda g: bar.update(1))
    for g in sorted(graded, key=lambda g: g.name):
        verdicts = ", ".join(f"{v.question} {v.verdict}" for v in g.verdicts)
        click.echo(
            f"{g.name} : {grading.number(g.total)}/{grading.number(scale.total)} — "
            f"{g.status} — {verdicts}"
        )
    click.echo(f"{len(graded)} soumission(s) corrigée(s) en {time.monotonic() - began:.1f} s")
    click.echo(f"Notes : {Path(out) / 'notes.csv'}")


@main.command(help="Vérifie lab.yaml (et les fichiers qu'il nomme) sans rien démarrer.")
@click.option("--lab", "lab_path", default="lab.yaml", show_default=True, help="le lab.yaml")
def validate(lab_path: str) -> None:
    from labcheck import nginx
    from labcheck.config import load_lab

    try:
        lab = load_lab(lab_path)
        nginx.parse(lab.path(lab.nginx.config))
    except LabcheckError as e:
        raise LabcheckUsageError(str(e)) from None
    click.echo(f"{lab_path} est valide :")
    for name in ("A", "B", "nginx"):
        click.echo(f"  {name:5} {lab.declared_url(name)}")
