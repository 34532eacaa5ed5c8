"""The team's machines mapped onto loopback: every address labcheck contacts is local.

A declared loopback address is kept; any other machine (172.20.10.2, "pc-siba", ...)
gets a loopback address of its own (127.0.0.2, 127.0.0.3, ...), so that two machines
keep their ports apart and nothing is ever sent to the team's real network.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

import psutil

from labcheck.config import Lab, is_loopback
from labcheck.errors import PortBusy


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self}/"


def free_port(host: str) -> int:
    """A port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_free(name: str, endpoint: Endpoint) -> None:
    """Raise PortBusy, naming the owner when it can be known, if the port is taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((endpoint.host, endpoint.port))
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            raise PortBusy(name, endpoint.host, endpoint.port, port_owner(endpoint.port)) from None


def port_owner(port: int) -> str | None:
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                proc = psutil.Process(conn.pid)
                command = " ".join(" ".join(proc.cmdline()).split())  # one line, always
                return f"« {command[:80]} » (pid {conn.pid})"
    except (psutil.Error, OSError):
        pass
    return None


class Network:
    """Where each declared service of the lab runs on this machine."""

    def __init__(self, lab: Lab, free_ports: bool = False) -> None:
        self._machines: dict[str, str] = {}
        self.nginx_host = lab.nginx.host
        declared = {
            "A": (lab.servers["A"].host, lab.servers["A"].port),
            "nginx": (lab.nginx.host, lab.nginx.port),
            "B": (lab.servers["B"].host, lab.servers["B"].port),
        }
        self.local: dict[str, Endpoint] = {}
        self._by_declared: dict[tuple[str, int], Endpoint] = {}
        for name, (host, port) in declared.items():
            machine = self.machine(host)
            endpoint = Endpoint(machine, free_port(machine) if free_ports else port)
            self.local[name] = endpoint
            self._by_declared[(self._canonical(host), port)] = endpoint

    @staticmethod
    def _canonical(host: str) -> str:
        return "127.0.0.1" if host == "localhost" else host

    def machine(self, host: str) -> str:
        """The loopback address standing for a declared machine."""
        host = self._canonical(host)
        if is_loopback(host):
            return host
        if host not in self._machines:
            self._machines[host] = f"127.0.0.{len(self._machines) + 2}"
        return self._machines[host]

    def upstream(self, host: str, port: int) -> Endpoint:
        """Where a connection to a declared (host, port) lands on this machine.

        A pair that is no declared service lands on a port where nothing listens,
        which is what the team's network would give.
        """
        key = (self._canonical(host), port)
        if key not in self._by_declared:
            machine = self.machine(host)
            self._by_declared[key] = Endpoint(machine, free_port(machine))
        return self._by_declared[key]
