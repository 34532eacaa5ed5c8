"""Local control (``control: local``): labcheck starts A, B and nginx, and stops them."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from labcheck import nginx
from labcheck.config import Lab
from labcheck.network import Endpoint, Network
from labcheck.processes import Service, StopReport

SERVICES = ("A", "B", "nginx")


class LocalLab:
    """The lab running on this machine; a context manager that leaves nothing behind."""

    def __init__(self, lab: Lab, *, free_ports: bool = False) -> None:
        self.lab = lab
        self.network = Network(lab, free_ports=free_ports)
        self.nginx_binary = nginx.binary()
        self.rundir = Path(tempfile.mkdtemp(prefix="labcheck-"))
        # nginx workers run as "nobody" when the master is root: they must read the prefix.
        self.rundir.chmod(0o755)
        self.nginx_config = nginx.RunConfig(lab.path(lab.nginx.config), self.rundir, self.network)
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
            )  # fmt: skip
        server = self.lab.servers[name]
        app = self.lab.path(server.app)
        env = {
            "LABCHECK_SERVER": name,
            "LABCHECK_HOST": endpoint.host,
            "LABCHECK_PORT": str(endpoint.port),
            "LABCHECK_MEMBER": " et ".join(server.members),
            "LABCHECK_ADDRESS": f"{server.host}:{server.port}",
        }
        command = [sys.executable, str(app)]
        return Service(
            f"Flask {name}", command, endpoint, log, env=env, cwd=app.parent,
            start_timeout=start_timeout, stop_grace=stop_grace,
        )  # fmt: skip

    def endpoint(self, name: str) -> Endpoint:
        return self.network.local[name]

    def launch(self) -> None:
        """Check nginx's config and start the three processes, without waiting for them."""
        try:
            self.nginx_config.write()
            nginx.check(self.nginx_binary, self.nginx_config)
            for service in self.services.values():
                service.launch()
        except BaseException:
            self.close()
            raise

    def wait_ready(self) -> None:
        """Wait until A, B and nginx accept connections (one fails: all are stopped)."""
        try:
            for service in self.services.values():
                service.wait_ready()
        except BaseException:
            self.close()
            raise

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
        self.services[name].start()

    @contextmanager
    def stopped(self, name: str) -> Iterator[StopReport]:
        """Stop a service for the block, and start it again whatever happened."""
        report = self.stop(name)
        try:
            yield report
        finally:
            self.start(name)

    def logs(self) -> dict[str, str]:
        """The end of each process's output, for a failed check."""
        out = {name: service.tail(40) for name, service in self.services.items()}
        for log in (self.nginx_config.error_log, self.nginx_config.access_log):
            if log.exists():
                out[log.name] = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        return out
