"""The team's network, on this machine's loopback: every address labcheck uses is local.

Each team machine gets a loopback address of its own: a declared loopback address is
kept, any other one (172.20.10.2, "pc-siba", ...) gets 127.0.0.2, 127.0.0.3, ... Each
(machine, port) that a team file binds, listens on or connects to maps to one loopback
endpoint, so that a mistake gives the refusal it would give on the team's network:
B asking for port 3000 leaves B's declared :3001 empty, a Flask bound to 127.0.0.1 is
out of reach of the other machines, an upstream entry on the wrong port is refused.

This module is also imported by the team's Flask process (``labcheck.teamapp``): keep it
light.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from labcheck.errors import PortBusy

if TYPE_CHECKING:
    from labcheck.config import Lab

SERVICES = ("A", "B", "nginx")
# "listen on every interface", as Flask, nginx and the OS spell it.
ANY_HOST = {"", "0.0.0.0", "::", "*"}
# Ports a team file is likely to name without declaring them: each gets its endpoint
# up front, so that two files naming the same one meet there (or collide), as they would.
_LIKELY_PORTS = (80, 3000, 3001, 5000, 8000, 8080, 8181)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def canonical(host: str) -> str:
    host = host.strip().strip("[]").lower()
    return "127.0.0.1" if host == "localhost" else host


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self}/"

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        host, _, port = text.rpartition(":")
        return cls(host, int(port))


@dataclass(frozen=True)
class Binding:
    """Where a team's server asked to listen, and where that lands here.

    ``endpoint`` is None when the host is no address of the server's machine: the OS
    refuses such a bind ("Cannot assign requested address").
    """

    host: str
    port: int
    endpoint: Endpoint | None
    scope: str  # "public" (reachable from other machines), "private" (127.0.0.1), "foreign"

    @property
    def asked(self) -> str:
        """As a team would write it: "0.0.0.0:3000", "8080", "[::]:8181"."""
        if not self.host:
            return str(self.port)
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


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
    import psutil

    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                proc = psutil.Process(conn.pid)
                command = " ".join(" ".join(proc.cmdline()).split())  # one line, always
                return f"« {command[:80]} » (pid {conn.pid})"
    except (psutil.Error, OSError):
        pass
    return None


@dataclass(frozen=True)
class Machine:
    """One team machine as a process running on it sees the network."""

    names: tuple[str, ...]  # how the team's files name it: "172.20.10.2", "pc-siba"
    loopback: str  # the loopback address that stands for it here
    ports: dict[int, Endpoint] = field(default_factory=dict)  # its ports, mapped

    def bind(self, host: str, port: int) -> Binding:
        """Where a server on this machine asking for (host, port) listens here."""
        wanted = canonical(host)
        if wanted in ANY_HOST or wanted in self.names or wanted == self.loopback:
            endpoint = self.ports.get(port) or Endpoint(self.loopback, free_port(self.loopback))
            return Binding(host, port, endpoint, "public")
        if is_loopback(wanted):
            # The machine's own loopback: a port of its own, that no other machine reaches.
            return Binding(host, port, Endpoint("127.0.0.1", free_port("127.0.0.1")), "private")
        return Binding(host, port, None, "foreign")

    def to_json(self) -> str:
        ports = {str(port): str(endpoint) for port, endpoint in self.ports.items()}
        return json.dumps({"names": self.names, "loopback": self.loopback, "ports": ports})

    @classmethod
    def from_json(cls, text: str) -> Machine:
        data = json.loads(text)
        ports = {int(port): Endpoint.parse(e) for port, e in data["ports"].items()}
        return cls(tuple(data["names"]), data["loopback"], ports)


class Network:
    """The team's machines and services, mapped onto this machine's loopback."""

    def __init__(self, lab: Lab, free_ports: bool = False) -> None:
        self._free_ports = free_ports
        self._taken: set[Endpoint] = set()
        self._machines: dict[str, Machine] = {}
        self._host_of = {
            "A": canonical(lab.servers["A"].host),
            "B": canonical(lab.servers["B"].host),
            "nginx": canonical(lab.nginx.host),
        }
        declared = {
            "A": lab.servers["A"].port,
            "B": lab.servers["B"].port,
            "nginx": lab.nginx.port,
        }
        self.local: dict[str, Endpoint] = {}
        for name in SERVICES:
            machine = self._machine(self._host_of[name])
            port = declared[name]
            endpoint = self._new_endpoint(machine.loopback, port if not free_ports else None)
            machine.ports[port] = endpoint
            self.local[name] = endpoint
        for machine in list(self._machines.values()):
            for port in _LIKELY_PORTS:
                if port not in machine.ports:
                    machine.ports[port] = self._new_endpoint(machine.loopback)

    def _machine(self, host: str) -> Machine:
        if host not in self._machines:
            if is_loopback(host):
                loopback = host
            else:
                used = {m.loopback for m in self._machines.values()}
                loopback = next(f"127.0.0.{n}" for n in range(2, 255) if f"127.0.0.{n}" not in used)
            self._machines[host] = Machine((host,), loopback, {})
        return self._machines[host]

    def _new_endpoint(self, host: str, port: int | None = None) -> Endpoint:
        """An endpoint of its own: ``port`` if given, else a free port no other pair has."""
        while True:
            endpoint = Endpoint(host, port if port is not None else free_port(host))
            if endpoint not in self._taken or port is not None:
                self._taken.add(endpoint)
                return endpoint

    def loopbacks(self) -> dict[str, str]:
        """Each machine the team's files name, and the loopback address standing for it."""
        return {host: machine.loopback for host, machine in self._machines.items()}

    def machine_of(self, service: str) -> Machine:
        return self._machines[self._host_of[service]]

    def connect(self, host: str, port: int, client: str = "nginx") -> Endpoint:
        """Where a connection from ``client``'s machine to (host, port) lands here.

        A loopback host is the client's own machine. A pair nothing is declared on lands
        on a port where nothing listens, which is what the team's network would give.
        """
        wanted = canonical(host)
        machine = self.machine_of(client) if is_loopback(wanted) else self._machine(wanted)
        if port not in machine.ports:
            machine.ports[port] = self._new_endpoint(machine.loopback)
        return machine.ports[port]

    def knows(self, host: str) -> bool:
        """Whether a name can be found: an IP address, localhost, or a declared machine.

        Any other host name would be looked up in DNS by nginx; on loopback it is not
        found, and this tells it before anything is looked up.
        """
        wanted = canonical(host)
        try:
            ipaddress.ip_address(wanted)
            return True
        except ValueError:
            return wanted in self._host_of.values()

    def nowhere(self) -> Endpoint:
        """A loopback endpoint where nothing listens, for an address that cannot be mapped."""
        return self._new_endpoint("127.0.0.1")

    def service_at(self, endpoint: Endpoint) -> str | None:
        """The declared service (A, B, nginx) whose address maps to ``endpoint``."""
        return next((name for name, e in self.local.items() if e == endpoint), None)
