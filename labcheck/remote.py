"""The team's own machines (``control: manual`` or commands): labcheck starts nothing.

A, B and nginx run where the team runs them, at their declared addresses, and labcheck
contacts those addresses only. To stop and restart Flask A it asks a person on the
terminal (manual) or runs the team's shell commands (ssh, say); either way the change
counts only once it is observed, polled with a deadline.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from labcheck import nginx, probes
from labcheck.config import Commands, Lab
from labcheck.diagnostics import Wiring
from labcheck.errors import ConfigError, LabcheckError
from labcheck.network import Binding, Endpoint, canonical, is_loopback
from labcheck.polling import poll
from labcheck.processes import StopReport
from labcheck.running import RunningLab


class ControlError(LabcheckError):
    """A stop or a start that was asked for and not observed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class RemoteLab(RunningLab):
    """The lab on the team's machines, reached at the addresses of lab.yaml."""

    def __init__(self, lab: Lab, say: Callable[[str], None] = _stderr) -> None:
        self.lab, self.say = lab, say
        self._hosts = {canonical(s.host) for s in lab.servers.values()} | {
            canonical(lab.nginx.host)
        }
        try:
            self.facts = nginx.facts(nginx.parse(lab.path(lab.nginx.config)))
        except ConfigError:
            self.facts = nginx.Facts()
        self.commands: list[dict[str, Any]] = []  # every command run: evidence

    # The interface the checks and the plugin use, as LocalLab's.

    def endpoint(self, name: str) -> Endpoint:
        target = self.lab.nginx if name == "nginx" else self.lab.servers[name]
        return Endpoint(target.host, target.port)

    def may_contact(self, host: str) -> bool:
        return canonical(host) in self._hosts

    def launch(self) -> None:
        """Nothing to start: the team's machines run the lab."""

    def wait_ready(self) -> None:
        """Nothing to wait for: each check says what does not answer."""

    def close(self) -> None:
        """Nothing to stop: what runs on the team's machines is theirs."""

    def stop(self, name: str) -> StopReport:
        began = time.monotonic()
        command = self._act(name, "stop")
        seen = self._await(name, lambda o: o.error == "refused", "refuse la connexion")
        if seen.error != "refused":
            raise ControlError(
                f"Flask {name} n'a pas été vu arrêté : {seen.url} répond encore "
                f"({seen.outcome}) après {self._deadline(name):g} s"
                + (f" ; la commande « {command} » l'arrête-t-elle ?" if command else "")
            )
        seconds = time.monotonic() - began
        return StopReport("commande" if command else "à la main", seconds, command=command)

    def start(self, name: str) -> None:
        command = self._act(name, "start")
        seen = self._await(name, lambda o: o.ok, "répond de nouveau")
        if not seen.ok:
            raise ControlError(
                f"Flask {name} n'a pas été vu redémarré : {seen.url} ({seen.outcome}) après "
                f"{self._deadline(name):g} s"
                + (f" ; la commande « {command} » le relance-t-elle ?" if command else "")
            )

    def wiring(self) -> Wiring:
        lab = self.lab
        declared, files = Wiring.of(lab)
        by_address = {(canonical(s.host), s.port): name for name, s in lab.servers.items()}
        routes = []
        for upstream in self.facts.upstreams:
            for address, _ in upstream.servers:
                parts = nginx.split_address(address)
                key = (canonical(parts[0]), parts[1]) if parts else None
                routes.append((address, by_address.get(key) if key else None))
        listens = []
        for listen in self.facts.listens:
            parts = nginx.split_address(listen)
            if parts:
                scope = "private" if parts[0] and is_loopback(parts[0]) else "public"
                listens.append(Binding(parts[0], parts[1], None, scope))
        return Wiring(
            facts=self.facts,
            declared=declared,
            files=files,
            listens=tuple(listens),
            routes=tuple(routes),
        )

    def logs(self) -> dict[str, str]:
        return {
            f"commande {c['action']} {c['server']}": f"$ {c['command']}\n{c['output']}"
            for c in self.commands[-4:]
        }

    def meta(self) -> dict[str, Any]:
        return {
            "control": {
                name: self._describe(self.lab.control_of(name)) for name in ("A", "B", "nginx")
            },
            "endpoints": {name: str(self.endpoint(name)) for name in ("A", "B", "nginx")},
            "nginx_version": "sur la machine de l'équipe",
            "nginx": nginx.describe(self.facts, None, "sur la machine de l'équipe"),
            "network_namespace": "machine",
            "commands": self.commands,
        }

    def notes(self) -> list[str]:
        return []

    # How A is stopped and started.

    def _deadline(self, name: str) -> float:
        control = self.lab.control_of(name)
        if isinstance(control, Commands):
            return control.timeout + self.lab.checks.stop_grace
        return self.lab.checks.manual_timeout

    def _act(self, name: str, action: str) -> str:
        """Ask the person, or run the command; the command run, if any."""
        control = self.lab.control_of(name)
        if isinstance(control, Commands):
            command = control.stop if action == "stop" else control.start
            self._run(name, action, command, control.timeout)
            return command
        who = " et ".join(m.initials for m in self.lab.members_of(name))
        url = self.endpoint(name).url
        if action == "stop":
            self.say(
                f"▶ Arrêtez Flask {name} sur la machine de {who} (Ctrl+C dans sa fenêtre). "
                f"labcheck attend que {url} refuse la connexion "
                f"(au plus {self.lab.checks.manual_timeout:g} s)."
            )
        else:
            app = self.lab.servers[name].app.name
            self.say(
                f"▶ Relancez Flask {name} sur la machine de {who} (python {app}). labcheck "
                f"attend que {url} réponde (au plus {self.lab.checks.manual_timeout:g} s)."
            )
        return ""

    def _await(
        self, name: str, done: Callable[[probes.Observation], bool], what: str
    ) -> probes.Observation:
        url = self.endpoint(name).url
        began = time.monotonic()
        seen = poll(
            lambda: probes.get(name, url, allowed=self.may_contact),
            done,
            timeout=self._deadline(name),
            interval=0.2,
        )
        if done(seen) and self.lab.control_of(name) == "manual":
            self.say(f"✓ {url} {what} (observé après {time.monotonic() - began:.1f} s).")
        return seen

    def _run(self, name: str, action: str, command: str, timeout: float) -> None:
        """A shell command, with a time limit; its output kept as evidence.

        The output goes to a file, not a pipe: a server the command leaves running in
        the background cannot keep labcheck waiting.
        """
        began = time.monotonic()
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(
                command, shell=True, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            try:
                code: int | None = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = None
            out.seek(0)
            output = out.read()[-4000:].decode("utf-8", errors="replace")
        self.commands.append(
            {
                "server": name, "action": action, "command": command, "exit_code": code,
                "seconds": round(time.monotonic() - began, 3), "output": output,
            }
        )  # fmt: skip
        last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
        if code is None:
            raise ControlError(f"la commande « {command} » n'a pas fini en {timeout:g} s")
        if code != 0:
            raise ControlError(
                f"la commande « {command} » a échoué (code {code})"
                + (f" : {last.strip()[:200]}" if last else "")
            )

    @staticmethod
    def _describe(control: object) -> str:
        return "commandes" if isinstance(control, Commands) else str(control)
