"""`labcheck doctor`: a preflight of a lab.yaml, as a French checklist.

For the team's machines (manual or command control): each declared address, asked
once with short time limits, and why it does not answer when it does not — nothing
listening, Flask listening on 127.0.0.1 only, nginx listening on another port, or no
answer in time (firewall, wrong address, sleeping laptop). For a local lab: nginx
installed, nginx.conf readable, the ports free.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import psutil

from labcheck import nginx, probes
from labcheck.config import Lab
from labcheck.errors import LabcheckError
from labcheck.network import Endpoint, Network, canonical, ensure_free, is_loopback

_TIMEOUT = (2.0, 3.0)  # connect, read: a preflight answers quickly


@dataclass(frozen=True)
class Item:
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.text}"


def examine(lab: Lab) -> list[Item]:
    items = [Item(True, f"{lab.source} est valide")]
    try:
        facts = nginx.facts(nginx.parse(lab.path(lab.nginx.config)))
        items.append(Item(True, f"{lab.nginx.config} se lit (nginx)"))
    except LabcheckError as e:
        facts = nginx.Facts()
        items.append(Item(False, str(e)))
    if lab.remote:
        for name in ("A", "B", "nginx"):
            items.append(_address(lab, name, facts))
    else:
        items += _local(lab)
    return items


def _local(lab: Lab) -> list[Item]:
    items = []
    try:
        binary = nginx.binary()
        items.append(Item(True, f"nginx {nginx.version(binary)} installé ({binary})"))
    except LabcheckError as e:
        items.append(Item(False, str(e)))
    network = Network(lab)
    for name, endpoint in network.local.items():
        label = "nginx" if name == "nginx" else f"Flask {name}"
        try:
            ensure_free(label, endpoint)
            items.append(Item(True, f"port {endpoint.port} libre pour {label} ({endpoint.host})"))
        except LabcheckError as e:
            items.append(Item(False, str(e)))
    return items


def _address(lab: Lab, name: str, facts: nginx.Facts) -> Item:
    target = lab.nginx if name == "nginx" else lab.servers[name]
    label = "nginx" if name == "nginx" else f"Flask {name}"
    declared = Endpoint(target.host, target.port)
    seen = _get(name, declared, lab)
    if seen.ok:
        return Item(True, f"{label} répond sur {declared.url} : « {seen.greeting[:80]} »")
    if seen.error == "timeout":
        return Item(
            False,
            f"{label} : pas de réponse en {_TIMEOUT[0]:g} s sur {declared} — un pare-feu qui "
            f"bloque le port {declared.port}, une mauvaise adresse IP, ou une machine en veille "
            "(un programme arrêté refuserait aussitôt la connexion)",
        )
    if seen.error != "refused":
        return Item(False, f"{label} : {declared.url} donne {seen.outcome}")
    why = _why_refused(lab, name, declared, facts)
    return Item(False, f"{label} : rien n'écoute sur {declared} (connexion refusée) — {why}")


def _why_refused(lab: Lab, name: str, declared: Endpoint, facts: nginx.Facts) -> str:
    if name == "nginx":
        for listen in facts.listens:
            parts = nginx.split_address(listen)
            if parts and parts[1] != declared.port:
                other = Endpoint(declared.host, parts[1])
                if _get(name, other, lab).status is not None:  # 502 too: nginx is there
                    return (
                        f"nginx répond sur le port {parts[1]} (listen {listen} dans "
                        f"{lab.nginx.config}) : écrivez « listen {declared.port}; » ou "
                        "corrigez nginx.port dans lab.yaml"
                    )
        return "nginx est-il lancé sur la machine de A, avec ce port dans « listen » ?"
    host = canonical(declared.host)
    if (is_loopback(host) or _this_machine(host)) and host != "127.0.0.1":  # this machine
        local = Endpoint("127.0.0.1", declared.port)
        if _get(name, local, lab).ok:
            return (
                f"Flask {name} répond sur {local} mais pas sur {declared.host} : il n'écoute "
                "que sur 127.0.0.1. Lancez-le avec app.run(host='0.0.0.0', ...)"
            )
    who = " et ".join(m.initials for m in lab.members_of(name))
    return f"Flask {name} est-il lancé sur la machine de {who}, sur le port {declared.port} ?"


def _this_machine(host: str) -> bool:
    """Whether ``host`` is an address of the machine labcheck runs on."""
    try:
        wanted = ipaddress.ip_address(canonical(host))
    except ValueError:
        return False
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            try:
                if ipaddress.ip_address(address.address.split("%")[0]) == wanted:
                    return True
            except ValueError:
                continue
    return False


def _get(name: str, endpoint: Endpoint, lab: Lab) -> probes.Observation:
    declared = {canonical(s.host) for s in lab.servers.values()} | {canonical(lab.nginx.host)}
    return probes.get(
        name,
        endpoint.url,
        allowed=lambda host: canonical(host) in declared or is_loopback(host),
        timeout=_TIMEOUT,
    )
