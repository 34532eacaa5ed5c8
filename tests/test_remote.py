"""The team's own machines, simulated on loopback aliases: A and nginx on 127.0.0.2, B on
127.0.0.3 (Linux routes all of 127.0.0.0/8 to lo). The "machines" run what a team runs:
``labcheck serve A``, ``labcheck serve B`` and ``labcheck nginx --run``. labcheck stops and
restarts A with the team's commands, or by asking a person (here, a test thread).
"""

import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
import yaml

from conftest import ROOT, checks_command
from labcheck.network import free_port
from labcheck.polling import poll
from labcheck.probes import get

LABCHECK = [sys.executable, "-c", "from labcheck.cli import main; main()"]
A_HOST, B_HOST = "127.0.0.2", "127.0.0.3"


def write_lab(folder: Path, control: object, ports: dict[str, int] | None = None) -> Path:
    """The reference app and nginx.conf, declared on two loopback "machines"."""
    folder.mkdir(parents=True, exist_ok=True)
    ports = ports or {
        "A": free_port(A_HOST), "B": free_port(B_HOST), "nginx": free_port(A_HOST)
    }  # fmt: skip
    (folder / "app.py").write_text((ROOT / "lab" / "app.py").read_text())
    conf = (ROOT / "lab" / "nginx.conf").read_text()
    conf = conf.replace("127.0.0.1:3000", f"{A_HOST}:{ports['A']}")
    conf = conf.replace("127.0.0.1:3001", f"{B_HOST}:{ports['B']}")
    (folder / "nginx.conf").write_text(conf.replace("listen 8181", f"listen {ports['nginx']}"))
    data = yaml.safe_load((ROOT / "lab.yaml").read_text())
    data["servers"]["A"].update(host=A_HOST, port=ports["A"], app="app.py")
    data["servers"]["B"].update(host=B_HOST, port=ports["B"], app="app.py")
    data["nginx"].update(host=A_HOST, port=ports["nginx"], config="nginx.conf")
    data["control"] = control
    data["checks"] = {"manual_timeout": 20, "recovery_timeout": 2}
    lab_yaml = folder / "lab.yaml"
    lab_yaml.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return lab_yaml


class Machines:
    """What the team runs on its two machines, started as the team would."""

    def __init__(self, lab_yaml: Path) -> None:
        self.lab_yaml, self.folder = lab_yaml, lab_yaml.parent
        self.procs: dict[str, subprocess.Popen] = {}

    def serve(self, name: str, host: str | None = None) -> subprocess.Popen:
        host = host or (A_HOST if name == "A" else B_HOST)
        command = [*LABCHECK, "serve", name, "--lab", str(self.lab_yaml), "--host", host]
        return self._start(name, command)

    def nginx(self, lab_yaml: Path | None = None) -> subprocess.Popen:
        command = [*LABCHECK, "nginx", "--run", "--lab", str(lab_yaml or self.lab_yaml)]
        return self._start("nginx", command)

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.folder / f"{name}.log").open("a") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[name] = proc
        (self.folder / f"{name}.pid").write_text(str(proc.pid))
        return proc

    def wait_answering(self, *urls: str, ok: bool = True) -> None:
        """Until each URL answers 200 (``ok``), or answers at all."""
        for url in urls:
            done = (lambda o: o.ok) if ok else (lambda o: o.status is not None)
            seen = poll(lambda u=url: get("x", u), done, timeout=20, interval=0.05)
            assert done(seen), (url, seen, self.logs())

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in self.folder.glob("*.log"))

    def stop_all(self) -> None:
        """Everything the team ran, whoever started it: the fixture, or a `start:` command
        (a shell's background job, in no group of its own)."""
        mine = []
        for proc in psutil.process_iter(["cmdline"]):
            if any(str(self.folder) in part for part in proc.info["cmdline"] or ()):
                mine += [proc, *proc.children(recursive=True)]  # nginx's workers too
        for proc in mine:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(mine, timeout=10)
        for proc in self.procs.values():
            proc.wait(timeout=10)
        assert not [p for p in mine if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture
def machines(lab_dir):
    started = []

    def start(control: object) -> Machines:
        team = Machines(write_lab(lab_dir, control))
        started.append(team)
        team.serve("A"), team.serve("B"), team.nginx()
        data = yaml.safe_load(team.lab_yaml.read_text())
        team.wait_answering(*(
            f"http://{t['host']}:{t['port']}/" for t in (*data["servers"].values(), data["nginx"])
        ))  # fmt: skip
        return team

    yield start
    for team in started:
        team.stop_all()


def run(lab_yaml: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        checks_command(lab_yaml, free_ports=False), cwd=ROOT, capture_output=True, text=True,
        timeout=120, **kw,
    )  # fmt: skip


def results(lab_yaml: Path) -> dict:
    import json

    return json.loads((lab_yaml.parent / "report" / "results.json").read_text())


def test_command_control_passes_q1_to_q4_on_the_teams_machines(machines, lab_dir):
    pid = lab_dir / "A.pid"
    start = " ".join([*map(repr, LABCHECK), "serve", "A", "--lab", str(lab_dir / "lab.yaml"),
                      "--host", A_HOST])  # fmt: skip
    team = machines({
        "stop": f"kill -INT $(cat {pid})",
        "start": f"{start} >> {lab_dir / 'A.log'} 2>&1 & echo $! > {pid}",
    })  # fmt: skip
    outcome = run(team.lab_yaml)

    assert outcome.returncode == 0, outcome.stdout + team.logs()
    data = results(team.lab_yaml)
    assert [c["action"] for c in data["commands"]] == ["stop", "start", "stop", "start"]
    assert data["control"] == {"A": "commandes", "B": "commandes", "nginx": "commandes"}
    rapport = (lab_dir / "report" / "rapport.md").read_text()
    assert "est arrêté par la commande `kill -INT $(cat" in rapport
    assert f"http://{A_HOST}:" in rapport


def test_manual_control_asks_on_the_terminal_and_waits_for_the_change(machines, lab_dir):
    team = machines("manual")
    proc = subprocess.Popen(
        checks_command(team.lab_yaml, free_ports=False), cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    asked = []

    def person() -> None:  # does what the prompt asks, as a team member would
        for line in proc.stdout:
            asked.append(line)
            if "Arrêtez Flask A" in line:
                team.procs["A"].send_signal(signal.SIGINT)
                team.procs["A"].wait(timeout=10)
            elif "Relancez Flask A" in line:
                team.serve("A")

    helper = threading.Thread(target=person)
    helper.start()
    proc.wait(timeout=120)
    helper.join(timeout=10)
    proc.stdout.close()
    output = "".join(asked)

    assert proc.returncode == 0, output + team.logs()
    assert output.count("▶ Arrêtez Flask A sur la machine de SG (Ctrl+C dans sa fenêtre)") == 2
    assert output.count("▶ Relancez Flask A sur la machine de SG (python app.py)") == 2
    stops = results(team.lab_yaml)["questions"][1]["facts"]["stops"]
    assert stops[0]["signal"] == "à la main"


def test_a_stop_that_never_comes_fails_with_a_clear_line(machines, lab_dir):
    team = machines({"stop": "true", "start": "true", "timeout": 5})
    data = yaml.safe_load(team.lab_yaml.read_text())
    data["checks"]["stop_grace"] = 0.5
    team.lab_yaml.write_text(yaml.safe_dump(data, allow_unicode=True))
    outcome = run(team.lab_yaml)

    assert outcome.returncode == 1
    assert "Flask A n'a pas été vu arrêté" in outcome.stdout
    assert "la commande « true » l'arrête-t-elle ?" in outcome.stdout
    assert "Traceback" not in outcome.stdout


def doctor(lab_yaml: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LABCHECK, "doctor", "--lab", str(lab_yaml)], capture_output=True, text=True, timeout=60
    )


def test_doctor_says_all_is_ready(machines):
    team = machines("manual")
    result = doctor(team.lab_yaml)
    assert result.returncode == 0, result.stdout
    assert "✓ Flask A répond sur http://127.0.0.2:" in result.stdout
    assert result.stdout.rstrip().endswith("Tout est prêt.")


def test_doctor_names_nothing_listening(lab_dir):
    result = doctor(write_lab(lab_dir, "manual"))
    assert result.returncode == 1
    assert "✗ Flask B : rien n'écoute sur 127.0.0.3:" in result.stdout
    assert "Flask B est-il lancé sur la machine de AAB et IB, sur le port" in result.stdout


def test_doctor_names_flask_bound_to_127_0_0_1(lab_dir):
    team = Machines(write_lab(lab_dir, "manual"))
    try:
        team.serve("A", host="127.0.0.1")
        port = yaml.safe_load(team.lab_yaml.read_text())["servers"]["A"]["port"]
        team.wait_answering(f"http://127.0.0.1:{port}/")
        result = doctor(team.lab_yaml)
    finally:
        team.stop_all()
    assert f"Flask A répond sur 127.0.0.1:{port} mais pas sur 127.0.0.2" in result.stdout
    assert "app.run(host='0.0.0.0', ...)" in result.stdout


def test_doctor_names_nginx_on_another_port(lab_dir, tmp_path):
    ports = {"A": free_port(A_HOST), "B": free_port(B_HOST), "nginx": free_port(A_HOST)}
    lab_yaml = write_lab(lab_dir, "manual", ports)
    other = {**ports, "nginx": free_port(A_HOST)}  # where nginx really listens
    running = write_lab(tmp_path / "vrai", "manual", other)
    conf = lab_dir / "nginx.conf"  # the team's nginx.conf says so
    conf.write_text(
        conf.read_text().replace(f"listen {ports['nginx']}", f"listen {other['nginx']}")
    )
    team = Machines(running)
    try:
        team.nginx()
        team.wait_answering(f"http://{A_HOST}:{other['nginx']}/", ok=False)  # 502, no A or B
        result = doctor(lab_yaml)
    finally:
        team.stop_all()
    assert f"✗ nginx : rien n'écoute sur {A_HOST}:{ports['nginx']}" in result.stdout
    assert f"nginx répond sur le port {other['nginx']}" in result.stdout


def test_doctor_and_checks_tell_a_time_out_from_a_refusal(lab_dir):
    team = Machines(write_lab(lab_dir, "manual"))
    port = yaml.safe_load(team.lab_yaml.read_text())["servers"]["B"]["port"]
    try:
        team.serve("A")
        team.wait_answering(f"http://{A_HOST}:{team_port(team, 'A')}/")
        with socket.socket() as silent:  # accepts connections, never answers: a firewall's
            silent.bind((B_HOST, port))  # drop, seen from here
            silent.listen(16)
            result = doctor(team.lab_yaml)
            q1 = subprocess.run(
                checks_command(team.lab_yaml, "-k", "q1", free_ports=False), cwd=ROOT,
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
    finally:
        team.stop_all()
    assert f"✗ Flask B : pas de réponse en 2 s sur {B_HOST}:{port}" in result.stdout
    assert "pare-feu" in result.stdout
    assert "✗ nginx : rien n'écoute" in result.stdout  # refused: another diagnostic
    assert f"B ne répond pas dans le délai (http://{B_HOST}:{port}/ : délai dépassé" in q1.stdout
    assert "un pare-feu qui bloque le port" in q1.stdout


def team_port(team: Machines, name: str) -> int:
    return yaml.safe_load(team.lab_yaml.read_text())["servers"][name]["port"]
