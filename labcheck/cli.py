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
