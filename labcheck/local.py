"""Local control (``control: local``): labcheck starts A, B and nginx, and stops them."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from labcheck import nginx
from labcheck.config import Lab
from labcheck.errors import LabcheckError, StartError
from labcheck.network import SERVICES, Binding, Endpoint, Network, is_loopback
from labcheck.processes import Service, StopReport
from labcheck.running import RunningLab

if TYPE_CHECKING:  # the diagnostics load while the lab starts, not before
    from labcheck.diagnostics import Wiring


class LocalLab(RunningLab):
    """The lab running on this machine; a context manager that leaves nothing behind.

    The team's files run as they are written, on the team's network mapped to loopback
    (``labcheck.network``). A team process that does not start is not an error of the
    run: it is recorded in ``failures``, and the checks that need it say why.
    """

    def __init__(self, lab: Lab, *, free_ports: bool = False) -> None:
        self.lab = lab
        self.network = Network(lab, free_ports=free_ports)
        self.nginx_binary = nginx.binary()
        self.rundir = Path(tempfile.mkdtemp(prefix="labcheck-"))
        # nginx workers run as "nobody" when the master is root: they must read the prefix.
        self.rundir.chmod(0o755)
        self.nginx_config = nginx.RunConfig(lab.path(lab.nginx.config), self.rundir, self.network)
        self.failures: dict[str, str] = {}
        self.nginx_ran: nginx.Facts | None = None  # the config as it ran, once written
        self._bindings: dict[str, Binding] = {}
        self.services = {name: self._service(name) for name in SERVICES}

    def _service(self, name: str) -> Service:
        start_timeout = self.lab.checks.start_timeout
        stop_grace = self.lab.checks.stop_grace
        endpoint = self.network.local[name]
        log = self.rundir / f"{name}.log"
        if name == "nginx":
            command = nginx.command(self.nginx_binary, self.nginx_config)
            return Service(
                "nginx", command, endpoint, log, cwd=self.rundir,
                start_timeout=start_timeout, stop_grace=stop_grace,
                listens=lambda: [endpoint, *self._nginx_listens()],
            )  # fmt: skip
        server = self.lab.servers[name]
        app = self.lab.path(server.app)
        env = {
            "LABCHECK_MACHINE": self.network.machine_of(name).to_json(),
            "LABCHECK_BINDING": str(self._binding_file(name)),
            "LABCHECK_MEMBER": " et ".join(server.members),
            "LABCHECK_ADDRESS": f"{server.host}:{server.port}",
        }
        command = [sys.executable, "-m", "labcheck.teamapp", str(app)]
        return Service(
            f"Flask {name}", command, endpoint, log, env=env, cwd=app.parent,
            start_timeout=start_timeout, stop_grace=stop_grace,
            listens=lambda: [endpoint, *self._bound(name)],
        )  # fmt: skip

    def _binding_file(self, name: str) -> Path:
        return self.rundir / f"{name}.binding.json"

    def binding(self, name: str) -> Binding | None:
        """Where Flask ``name`` asked to listen (None before it called app.run)."""
        if name not in self._bindings:
            try:
                data = json.loads(self._binding_file(name).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            endpoint = Endpoint.parse(data["endpoint"]) if data["endpoint"] else None
            self._bindings[name] = Binding(data["host"], data["port"], endpoint, data["scope"])
        return self._bindings[name]

    def _forget_binding(self, name: str) -> None:
        self._bindings.pop(name, None)
        self._binding_file(name).unlink(missing_ok=True)

    def _bound(self, name: str) -> list[Endpoint]:
        binding = self.binding(name)
        return [binding.endpoint] if binding and binding.endpoint else []

    def _nginx_listens(self) -> list[Endpoint]:
        return [b.endpoint for b in self.nginx_config.listens if b.endpoint]

    def endpoint(self, name: str) -> Endpoint:
        return self.network.local[name]

    def may_contact(self, host: str) -> bool:
        """Loopback only: the lab runs here, whatever addresses the team declared."""
        return is_loopback(host)

    def meta(self) -> dict[str, Any]:
        """What results.json says of this run."""
        return {
            "control": dict.fromkeys(SERVICES, "local"),
            "endpoints": {name: str(e) for name, e in self.network.local.items()},
            "nginx_version": nginx.version(self.nginx_binary),
            "nginx": nginx.describe(
                self.nginx_config.facts, self.nginx_ran, nginx.version(self.nginx_binary)
            ),
            "machines": self.network.loopbacks(),
            "startup_failures": self.failures,
            "nginx_notes": self.nginx_config.notes,
            "bindings": {
                name: {"asked": b.asked, "endpoint": str(b.endpoint) if b.endpoint else None}
                for name in ("A", "B")
                if (b := self.binding(name))
            },
        }

    def notes(self) -> list[str]:
        """For the terminal: what was left out of the team's nginx.conf."""
        return [f"nginx — remarque : {note}" for note in self.nginx_config.notes]

    def launch(self) -> None:
        """Check nginx's config and start the three processes, without waiting for them."""
        try:
            try:
                self.nginx_config.write()
                self.nginx_ran = nginx.facts(self.nginx_config.rendered())
                nginx.check(self.nginx_binary, self.nginx_config)
            except LabcheckError as e:  # the team's nginx.conf cannot run
                self.failures["nginx"] = f"nginx n'a pas démarré : {e}"
            for name, service in self.services.items():
                if name not in self.failures:
                    self._forget_binding(name)
                    service.launch()
        except BaseException:
            self.close()
            raise

    def wait_ready(self) -> None:
        """Wait until A, B and nginx accept connections; record those that do not start."""
        try:
            for name, service in self.services.items():
                if name not in self.failures:
                    try:
                        service.wait_ready()
                    except StartError as e:
                        self.failures[name] = self._start_failure(name, e)
        except BaseException:
            self.close()
            raise

    def _start_failure(self, name: str, error: StartError) -> str:
        if name == "nginx":
            return str(error)
        from labcheck.diagnostics import start_failure

        file = self.lab.servers[name].app.name
        return start_failure(error, file, called_run=self.binding(name) is not None)

    def wiring(self) -> Wiring:
        """How the team's files wire the lab, for the diagnostics."""
        from labcheck.diagnostics import Wiring

        lab = self.lab
        declared, files = Wiring.of(lab)
        bindings = {name: b for name in lab.servers if (b := self.binding(name))}
        return Wiring(
            facts=self.nginx_config.facts,
            declared=declared,
            files=files,
            bindings=bindings,
            listens=tuple(self.nginx_config.listens),
            routes=tuple(self.nginx_config.routes),
            failures=dict(self.failures),
        )

    def __enter__(self) -> LocalLab:
        self.launch()
        self.wait_ready()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Kill every process of the lab and remove the run folder."""
        for service in self.services.values():
            service.kill()
        shutil.rmtree(self.rundir, ignore_errors=True)

    def stop(self, name: str) -> StopReport:
        return self.services[name].stop()

    def start(self, name: str) -> None:
        self._forget_binding(name)
        self.services[name].start()

    def logs(self) -> dict[str, str]:
        """The end of each process's output, for a failed check."""
        out = {name: service.tail(40) for name, service in self.services.items()}
        for log in (self.nginx_config.error_log, self.nginx_config.access_log):
            if log.exists():
                out[log.name] = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        return out
