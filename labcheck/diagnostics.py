"""Why a check failed, in French: pure functions of the observations and nginx's config.

Each function returns None when the observations answer the question, or one
message that says what was seen and what to change.
"""

from __future__ import annotations

from collections import Counter

from labcheck.nginx import Facts
from labcheck.probes import Observation


def _seen(o: Observation) -> str:
    return f"{o.url} : {o.outcome}"


def answering(o: Observation, name: str, when: str = "") -> str | None:
    """A server answers 200 with a non-empty page."""
    if o.error == "refused":
        return (
            f"{name} ne répond pas{when} ({_seen(o)}) : Flask {name} est-il lancé, "
            f"et écoute-t-il sur ce port ?"
        )
    if not o.ok:
        return f"{name} ne répond pas correctement{when} ({_seen(o)})"
    if not o.greeting:
        return f"{name} répond une page vide ({o.url}) : la route / doit afficher un message"
    return None


def direct(found: dict[str, Observation], purpose: str = "") -> str | None:
    """Each server answers at its own address, with its own greeting.

    Q1 asks exactly this; Q3 and Q4 need it to tell A's responses from B's.
    """
    a, b = found["A"], found["B"]
    problem = answering(a, "A") or answering(b, "B")
    if not problem and a.greeting == b.greeting:
        problem = (
            f"A et B répondent le même message « {a.greeting} » : impossible de savoir "
            "qui répond. Chaque membre doit afficher son propre message (ses initiales, son IP)."
        )
    return f"{purpose}{problem}" if problem else None


def stopped(o: Observation, name: str = "A") -> str | None:
    """Q2: the address of a stopped server refuses the connection."""
    if o.error == "refused":
        return None
    if o.ok:
        return (
            f"{name} répond encore après son arrêt ({_seen(o)}) : un autre programme "
            "écoute-t-il sur ce port ?"
        )
    return f"après l'arrêt de {name}, on attendait un refus de connexion, observé : {_seen(o)}"


def _unexpected(responses: list[Observation]) -> str | None:
    failed = [o for o in responses if not o.ok]
    if failed:
        kinds = Counter(o.outcome for o in failed)
        summary = ", ".join(f"{n}× {k}" for k, n in kinds.most_common())
        return f"{len(failed)} requête(s) sur {len(responses)} ont échoué via nginx ({summary})"
    strangers = [o for o in responses if o.server is None]
    if strangers:
        return (
            f"{len(strangers)} réponse(s) de nginx ne sont le message ni de A ni de B "
            f"(« {strangers[0].greeting[:80]} ») : nginx répond-il lui-même (root, "
            "try_files, page par défaut) au lieu de transmettre à l'upstream ?"
        )
    return None


def alternation(responses: list[Observation], tolerance: float, facts: Facts) -> str | None:
    """Q3: both servers answer through nginx, in a balanced way."""
    problem = _unexpected(responses)
    if problem:
        return problem
    counts = Counter(o.server for o in responses)
    total = len(responses)
    split = f"A {counts['A']}, B {counts['B']} sur {total}"
    if len(counts) == 1:
        only = str(next(iter(counts)))
        return f"seul {only} a répondu via nginx ({split}) : {_why_one_server(facts, only)}"
    share = counts["A"] / total
    if abs(share - 0.5) > tolerance:
        return (
            f"répartition déséquilibrée via nginx ({split}, tolérance ±{tolerance:.0%})"
            + _why_unbalanced(facts)
        )
    return None


def _why_one_server(facts: Facts, only: str) -> str:
    upstream = facts.upstream
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
    return f"vérifiez que l'upstream « {upstream.name} » liste les adresses de A et de B"


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
    a: Observation, b: Observation, responses: list[Observation], facts: Facts
) -> str | None:
    """Q4: A stopped: A refuses, B answers, nginx answers every request, from B."""
    problem = stopped(a) or answering(b, "B", " alors que A est arrêté")
    if problem:
        return problem
    failed = [o for o in responses if not o.ok]
    if failed:
        return f"{_unexpected(responses)} après l'arrêt de A : {_why_no_failover(facts)}"
    problem = _unexpected(responses)
    if problem:
        return problem
    not_b = [o for o in responses if o.server != "B"]
    if not_b:
        return f"{len(not_b)} réponse(s) de nginx ne viennent pas de B alors que A est arrêté"
    return None


def _why_no_failover(facts: Facts) -> str:
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
    return "nginx n'a pas pris le relais de A avec B ; vérifiez l'upstream et les journaux"


def precondition(before: Observation, name: str = "A") -> str | None:
    """Stopping a server shows something only if it was answering before."""
    problem = answering(before, name, " avant l'arrêt")
    return f"précondition non remplie : {problem}" if problem else None
