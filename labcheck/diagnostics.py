"""Why a check failed, in French: pure functions of the observations and the team's files.

Each function returns None when the observations answer the question, or one
message that says what was seen and what to change.
"""

from __future__ import annotations

import re
import signal
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from labcheck.errors import StartError
from labcheck.network import Binding
from labcheck.nginx import Facts
from labcheck.probes import Observation

if TYPE_CHECKING:
    from labcheck.config import Lab


@dataclass(frozen=True)
class Wiring:
    """How the team's files wire the lab, as labcheck ran them."""

    facts: Facts = Facts()  # what nginx.conf says
    declared: dict[str, str] = field(default_factory=dict)  # "B" -> "172.20.10.3:3001"
    files: dict[str, str] = field(default_factory=dict)  # "B" -> "app_AAB.py"
    bindings: dict[str, Binding] = field(default_factory=dict)  # where app.run asked to listen
    listens: tuple[Binding, ...] = ()  # nginx's listen directives
    routes: tuple[tuple[str, str | None], ...] = ()  # upstream entry -> the server it reaches
    failures: dict[str, str] = field(default_factory=dict)  # what did not start, and why

    @staticmethod
    def of(lab: Lab) -> tuple[dict[str, str], dict[str, str]]:
        """The declared address and the file of A, B and nginx, as lab.yaml names them."""
        declared = {name: f"{s.host}:{s.port}" for name, s in lab.servers.items()}
        declared["nginx"] = f"{lab.nginx.host}:{lab.nginx.port}"
        files = {name: s.app.name for name, s in lab.servers.items()}
        return declared, {**files, "nginx": lab.nginx.config.name}

    def port(self, name: str) -> int:
        return int(self.declared[name].rpartition(":")[2])


_SIGNALS = {
    int(signal.SIGXFSZ): "SIGXFSZ : sa sortie a dépassé la taille permise (un print sans fin ?)",
    int(signal.SIGXCPU): "SIGXCPU : il a dépassé le temps de calcul permis (boucle sans fin ?)",
    int(signal.SIGKILL): "SIGKILL (mémoire épuisée ?)",
    int(signal.SIGSEGV): "SIGSEGV (plantage de Python ou d'une bibliothèque)",
}


def start_failure(error: StartError, file: str, called_run: bool) -> str:
    """Why a team's Flask did not start, in one line: its exception and the file's line."""
    lines = [line.strip() for line in error.tail.splitlines() if line.strip()]
    exception = next(
        (line for line in reversed(lines) if re.match(r"[\w.]+(Error|Exception)\b", line)), None
    )
    if exception:
        exception = re.sub(r" \((/|[A-Z]:\\)[^)]*\)$", "", exception)  # the library's path
        places = re.findall(rf'File ".*{re.escape(file)}", line (\d+)', error.tail)
        where = f"{file}, ligne {places[-1]}" if places else file
        return f"{error.name} n'a pas démarré : {where} : {exception}"
    if error.exit_code is not None and error.exit_code < 0:
        signal_name = _SIGNALS.get(-error.exit_code, f"signal {-error.exit_code}")
        return f"{error.name} n'a pas démarré : {file} a été arrêté par {signal_name}"
    if not called_run and error.exit_code == 0:
        return (
            f"{error.name} n'a pas démarré : {file} s'est terminé sans lancer de serveur. "
            "Appelle-t-il app.run(...) sous « if __name__ == '__main__': » ?"
        )
    return str(error)


def _seen(o: Observation, wiring: Wiring) -> str:
    """What a request saw, at the address the team declared (labcheck ran it on loopback)."""
    address = wiring.declared.get(o.target)
    return f"{f'http://{address}/' if address else o.url} : {o.outcome}"


def unreachable(name: str, wiring: Wiring) -> str | None:
    """Why the declared address of A, B or nginx refuses, read from the team's files."""
    if name == "nginx":
        return _nginx_unreachable(wiring)
    file, declared, port = wiring.files[name], wiring.declared[name], wiring.port(name)
    binding = wiring.bindings.get(name)
    if binding is not None:
        call = f"app.run(host='{binding.host}', port={binding.port})"
        if binding.scope == "foreign":
            return (
                f"{file} demande {call}, mais {binding.host} n'est pas une adresse de la "
                f"machine de {name} ({declared.rpartition(':')[0]}) : le système refuse "
                "(Cannot assign requested address). Mettez host='0.0.0.0'"
            )
        if binding.port != port:
            return (
                f"{file} demande {call}, mais lab.yaml déclare {name} sur {declared} : rien "
                f"n'écoute sur le port {port}. Mettez port={port} dans {file}"
            )
        if binding.scope == "private":
            return (
                f"{file} demande {call} : Flask n'écoute alors que sur sa propre machine, "
                f"ni nginx ni les autres machines ne le joignent à {declared}. "
                "Mettez host='0.0.0.0'"
            )
    return _port_taken_by_other(name, wiring) or wiring.failures.get(name)


def _port_taken_by_other(name: str, wiring: Wiring) -> str | None:
    """Both servers on one machine, the other one asking for this one's port."""
    other = "B" if name == "A" else "A"
    theirs = wiring.bindings.get(other)
    same_machine = (
        wiring.declared[name].rpartition(":")[0] == wiring.declared[other].rpartition(":")[0]
    )
    if not same_machine or theirs is None or theirs.port != wiring.port(name):
        return None
    file = wiring.files[other]
    return (
        f"{file} (serveur {other}) demande aussi le port {theirs.port}, sur la même machine : "
        f"un seul des deux peut l'avoir. Mettez port={wiring.port(other)} dans {file}"
    )


def _nginx_unreachable(wiring: Wiring) -> str | None:
    if "nginx" in wiring.failures:
        return wiring.failures["nginx"]
    file, port = wiring.files["nginx"], wiring.port("nginx")
    on_port = [b for b in wiring.listens if b.port == port]
    if not on_port:
        ports = ", ".join(f"listen {b.asked}" for b in wiring.listens) or "aucun listen"
        return (
            f"{file} n'écoute pas sur le port déclaré {port} ({ports}) : écrivez "
            f"« listen {port}; » dans le bloc server qui fait proxy_pass"
        )
    if all(b.scope == "private" for b in on_port):
        return (
            f"{file} n'écoute sur le port {port} que sur {on_port[0].host} "
            f"(listen {on_port[0].asked}) : les autres machines ne le joignent pas. "
            f"Écrivez « listen {port}; »"
        )
    return None


def answering(o: Observation, name: str, wiring: Wiring, when: str = "") -> str | None:
    """A server answers 200 with a non-empty page."""
    if o.error == "refused":
        why = unreachable(name, wiring) or (
            f"Flask {name} est-il lancé, et écoute-t-il sur ce port ?"
        )
        return f"{name} ne répond pas{when} ({_seen(o, wiring)}) : {why}"
    if o.error == "timeout":
        port = wiring.port(name) if name in wiring.declared else "?"
        return (
            f"{name} ne répond pas dans le délai{when} ({_seen(o, wiring)}) : un pare-feu "
            f"qui bloque le port {port}, une mauvaise adresse IP, ou une machine en veille ? "
            "(un serveur arrêté refuserait la connexion aussitôt)"
        )
    if not o.ok:
        return f"{name} ne répond pas correctement{when} ({_seen(o, wiring)})"
    if not o.greeting:
        return f"{name} répond une page vide ({o.url}) : la route / doit afficher un message"
    return None


def direct(found: dict[str, Observation], wiring: Wiring, purpose: str = "") -> str | None:
    """Each server answers at its own address, with its own greeting.

    Q1 asks exactly this; Q3 and Q4 need it to tell A's responses from B's.
    """
    a, b = found["A"], found["B"]
    problem = answering(a, "A", wiring) or answering(b, "B", wiring)
    if not problem and a.greeting == b.greeting:
        problem = (
            f"A et B répondent le même message « {a.greeting} » : impossible de savoir "
            "qui répond. Chaque membre doit afficher son propre message (ses initiales, son IP)."
        )
    return f"{purpose}{problem}" if problem else None


def stopped(o: Observation, wiring: Wiring, name: str = "A") -> str | None:
    """Q2: the address of a stopped server refuses the connection."""
    if o.error == "refused":
        return None
    if o.ok:
        return (
            f"{name} répond encore après son arrêt ({_seen(o, wiring)}) : un autre programme "
            "écoute-t-il sur ce port ?"
        )
    seen = _seen(o, wiring)
    return f"après l'arrêt de {name}, on attendait un refus de connexion, observé : {seen}"


def _unexpected(responses: list[Observation], wiring: Wiring) -> str | None:
    failed = [o for o in responses if not o.ok]
    if failed:
        kinds = Counter(o.outcome for o in failed)
        summary = ", ".join(f"{n}× {k}" for k, n in kinds.most_common())
        problem = f"{len(failed)} requête(s) sur {len(responses)} ont échoué via nginx ({summary})"
        why = unreachable("nginx", wiring) if failed[0].error == "refused" else None
        return f"{problem} : {why}" if why else problem
    strangers = [o for o in responses if o.server is None]
    if strangers:
        return (
            f"{len(strangers)} réponse(s) de nginx ne sont le message ni de A ni de B "
            f"(« {strangers[0].greeting[:80]} ») : nginx répond-il lui-même (root, "
            "try_files, page par défaut) au lieu de transmettre à l'upstream ?"
        )
    return None


def alternation(responses: list[Observation], tolerance: float, wiring: Wiring) -> str | None:
    """Q3: both servers answer through nginx, in a balanced way."""
    problem = _unexpected(responses, wiring)
    if problem:
        return problem
    counts = Counter(o.server for o in responses)
    total = len(responses)
    split = f"A {counts['A']}, B {counts['B']} sur {total}"
    if len(counts) == 1:
        only = str(next(iter(counts)))
        return f"seul {only} a répondu via nginx ({split}) : {_why_one_server(wiring, only)}"
    share = counts["A"] / total
    if abs(share - 0.5) > tolerance:
        return (
            f"répartition déséquilibrée via nginx ({split}, tolérance ±{tolerance:.0%})"
            + _why_unbalanced(wiring.facts)
        )
    return None


def _why_one_server(wiring: Wiring, only: str) -> str:
    upstream = wiring.facts.upstream
    if upstream is None:
        return "aucun bloc upstream dans nginx.conf : proxy_pass doit viser un upstream de A et B"
    if upstream.method == "ip_hash":
        return (
            "`ip_hash` épingle chaque client à un seul serveur ; retirez-le pour le "
            "round-robin (A, B, A, B…)"
        )
    if upstream.method == "hash":
        return "`hash` envoie une même requête toujours au même serveur ; retirez-le"
    backups = [address for address, params in upstream.servers if "backup" in params]
    if backups:
        return (
            f"{', '.join(backups)} est marqué `backup` : il ne reçoit du trafic que si "
            "l'autre serveur est en panne ; retirez `backup`"
        )
    if len(upstream.servers) < 2:
        return f"l'upstream « {upstream.name} » ne liste qu'un serveur : ajoutez-y A et B"
    missing = "B" if only == "A" else "A"
    return _route_problem(wiring, missing) or (
        f"vérifiez que l'upstream « {upstream.name} » liste les adresses de A et de B"
    )


def _route_problem(wiring: Wiring, server: str) -> str | None:
    """Why nginx cannot reach ``server``: no upstream entry for it, or it does not listen."""
    if server not in {service for _, service in wiring.routes}:
        strays = [entry for entry, service in wiring.routes if service is None]
        name = wiring.facts.upstream.name if wiring.facts.upstream else "?"
        return (
            f"aucune entrée de l'upstream « {name} » ne vise {server} "
            f"({wiring.declared[server]}) ; "
            + (f"{', '.join(strays)} ne correspond à aucun serveur déclaré ; " if strays else "")
            + f"corrigez l'adresse ou le port dans {wiring.files['nginx']}"
        )
    why = unreachable(server, wiring)
    return f"nginx n'atteint pas {server} : {why}" if why else None


def _why_unbalanced(facts: Facts) -> str:
    upstream = facts.upstream
    if upstream is None:
        return ""
    weights = [f"{a} {p}" for a, params in upstream.servers for p in params if "weight=" in p]
    if weights:
        return f" : `weight` fausse la répartition ({'; '.join(weights)})"
    if upstream.method != "round-robin":
        return f" : la méthode `{upstream.method}` ne fait pas d'alternance"
    return ""


def failover(
    a: Observation, b: Observation, responses: list[Observation], wiring: Wiring
) -> str | None:
    """Q4: A stopped: A refuses, B answers, nginx answers every request, from B."""
    problem = stopped(a, wiring) or answering(b, "B", wiring, " alors que A est arrêté")
    if problem:
        return problem
    failed = [o for o in responses if not o.ok]
    if failed:
        if failed[0].error == "refused":  # nginx itself does not answer
            return _unexpected(responses, wiring)
        why = _why_no_failover(wiring)
        return f"{_unexpected(responses, wiring)} après l'arrêt de A : {why}"
    problem = _unexpected(responses, wiring)
    if problem:
        return problem
    not_b = [o for o in responses if o.server != "B"]
    if not_b:
        return f"{len(not_b)} réponse(s) de nginx ne viennent pas de B alors que A est arrêté"
    return None


def _why_no_failover(wiring: Wiring) -> str:
    facts = wiring.facts
    if "off" in facts.proxy_next_upstream:
        return (
            "`proxy_next_upstream off` empêche nginx de réessayer B quand A refuse ; "
            "retirez cette ligne (défaut : error timeout)"
        )
    upstream = facts.upstream
    if upstream is not None and len(upstream.servers) < 2:
        return (
            f"l'upstream « {upstream.name} » ne liste qu'un serveur : personne ne prend "
            "le relais de A"
        )
    problem = _route_problem(wiring, "B")
    if problem:
        return problem
    return "nginx n'a pas pris le relais de A avec B ; vérifiez l'upstream et les journaux"


def precondition(before: Observation, wiring: Wiring, name: str = "A") -> str | None:
    """Stopping a server shows something only if it was answering before."""
    problem = answering(before, name, wiring, " avant l'arrêt")
    return f"précondition non remplie : {problem}" if problem else None
