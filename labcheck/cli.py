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


@main.command(help="Vérifie un laboratoire avant les vérifications : une liste en français.")
@click.option("--lab", "lab_path", default="lab.yaml", show_default=True, help="le lab.yaml")
def doctor(lab_path: str) -> None:
    from labcheck import doctor as preflight
    from labcheck.config import load_lab

    try:
        lab = load_lab(lab_path)
    except LabcheckError as e:
        raise LabcheckUsageError(str(e)) from None
    where = "machines de l'équipe" if lab.remote else "exécuté par labcheck sur cette machine"
    click.echo(f"labcheck doctor — {lab_path} ({where})")
    items = preflight.examine(lab)
    for item in items:
        click.echo(str(item))
    problems = sum(not item.ok for item in items)
    click.echo(f"{problems} problème(s)." if problems else "Tout est prêt.")
    sys.exit(1 if problems else 0)


@main.command(help="Lance l'application Flask d'un serveur (A ou B) sur 0.0.0.0 et son port.")
@click.argument("server", type=click.Choice(["A", "B"]))
@click.option("--lab", "lab_path", default="lab.yaml", show_default=True, help="le lab.yaml")
@click.option("--host", default="0.0.0.0", show_default=True, help="adresse d'écoute")
def serve(server: str, lab_path: str, host: str) -> None:
    import os

    from labcheck import deploy
    from labcheck.config import load_lab

    try:
        lab = load_lab(lab_path)
    except LabcheckError as e:
        raise LabcheckUsageError(str(e)) from None
    command, env = deploy.serve(lab, server, host)
    app = lab.servers[server].app
    port = lab.servers[server].port
    click.echo(
        f"Flask {server} ({app}) sur http://{host}:{port}/ — Ctrl+C pour l'arrêter", err=True
    )
    os.execve(command[0], command, env)  # Ctrl+C goes to Flask itself


@main.command(
    help="Écrit la configuration nginx du laboratoire depuis lab.yaml (upstream de A et B, "
    "écoute sur le port de nginx) ; --run la lance au premier plan."
)
@click.option("--lab", "lab_path", default="lab.yaml", show_default=True, help="le lab.yaml")
@click.option("--output", type=click.Path(dir_okay=False), help="fichier à écrire")
@click.option("--run", "run_it", is_flag=True, help="lancer nginx avec cette configuration")
def nginx(lab_path: str, output: str | None, run_it: bool) -> None:
    import os
    from pathlib import Path

    from labcheck import deploy
    from labcheck.config import load_lab

    try:
        lab = load_lab(lab_path)
        if run_it:
            folder = lab.root / ".labcheck" / "nginx"
            command = deploy.run_nginx(lab, folder)
            click.echo(
                f"nginx sur le port {lab.nginx.port} (configuration : {folder / 'nginx.conf'}) "
                "— Ctrl+C pour l'arrêter",
                err=True,
            )
            os.execv(command[0], command)
    except LabcheckError as e:
        raise LabcheckUsageError(str(e)) from None
    text = deploy.nginx_config(lab)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"Configuration écrite dans {output}", err=True)
    else:
        click.echo(text, nl=False)


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
