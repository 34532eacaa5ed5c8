"""The report's answers, written in French from the evidence, never from expectations.

Pure functions: a Question in, Markdown lines out. What was observed is always told;
the conclusion sentence of the team's example report is added only when the check
passed, and a failed check gets its diagnostic instead.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable
from typing import Any

from labcheck.config import Lab
from labcheck.evidence import Question
from labcheck.probes import Observation

CONCLUSIONS = {
    "Q1": "Cela confirme que les deux serveurs Flask fonctionnent, chacun avec son propre message.",
    "Q2": (
        "Cela signifie que le service Flask ne répond plus : plus rien n'écoute sur ce port, "
        "la connexion est refusée."
    ),
    "Q3": "Cela montre que nginx distribue automatiquement les requêtes entre les deux serveurs.",
    "Q4": (
        "Cela prouve que nginx redirige automatiquement les requêtes vers le serveur "
        "disponible, assurant ainsi la tolérance aux pannes."
    ),
}


def md(text: str) -> str:
    """Text from a server, safe inside a Markdown sentence (and its HTML rendering)."""
    out = html.escape(" ".join(text.split()), quote=False)
    for char in "\\`*_[]#|":
        out = out.replace(char, "\\" + char)
    return out


def seen(o: Observation) -> str:
    """« message » (HTTP 200) or the error, in French."""
    if o.ok:
        return f"« {md(o.greeting)} »"
    if o.status is not None and o.greeting:
        return f"{o.outcome} (« {md(o.greeting[:100])} »)"
    return o.outcome


def number(value: float, digits: int = 1) -> str:
    """1.25 -> '1,2' (French decimal comma)."""
    return f"{value:.{digits}f}".replace(".", ",")


def _pick(q: Question, target: str, label: str) -> Observation | None:
    return next((o for o in q.observations if o.target == target and o.label == label), None)


def _batch(q: Question, label: str) -> list[Observation]:
    return [o for o in q.observations if o.target == "nginx" and o.label == label]


def _split(responses: list[Observation]) -> str:
    counts = Counter((o.server or "réponse non attribuée") if o.ok else "erreur" for o in responses)
    order = ["A", "B", *sorted(set(counts) - {"A", "B"})]
    return ", ".join(f"{who} : {counts[who]}" for who in order if counts[who])


def _q1(q: Question, url: Callable[[str], str]) -> list[str]:
    lines = []
    for name in ("A", "B"):
        o = _pick(q, name, "direct")
        if o is None:
            continue
        if o.ok:
            lines.append(f"Le message {seen(o)} sur `{url(name)}` (serveur {name}).")
        else:
            lines.append(f"`{url(name)}` (serveur {name}) : {seen(o)}.")
    return lines


def _stop_line(q: Question) -> list[str]:
    lines = []
    for s in q.facts.get("stops", []):
        seconds = number(s["seconds"], 2)
        if s["signal"] == "à la main":
            how = f"à la main par l'équipe (arrêt observé après {seconds} s)"
        elif s.get("command"):
            how = f"par la commande `{s['command']}` (arrêt observé après {seconds} s)"
        else:
            how = f"comme avec Ctrl+C ({s['signal']}, {seconds} s)"
        lines.append(f"Flask {s['server']} est arrêté {how}.")
    return lines


def _q2(q: Question, url: Callable[[str], str]) -> list[str]:
    lines = []
    before, after = _pick(q, "A", "avant l'arrêt"), _pick(q, "A", "A arrêté")
    if before:
        lines.append(f"Avant l'arrêt, `{url('A')}` répond : {seen(before)}.")
    lines += _stop_line(q)
    if after:
        verb = "devient inaccessible" if after.error == "refused" else "donne"
        lines.append(f"Ensuite, `{url('A')}` {verb} : {seen(after)}.")
    return lines


def _q3(q: Question, url: Callable[[str], str]) -> list[str]:
    responses = _batch(q, "")
    if not responses:
        return _q1(q, url)
    lines = [
        f"{len(responses)} requêtes successives sur `{url('nginx')}` : {_split(responses)}.",
        "Ordre des réponses : " + " ".join(q.facts.get("sequence", [])) + ".",
    ]
    greetings = {o.server: o for o in responses if o.server}
    if greetings:
        lines.append(
            "Les réponses alternent entre :"
            if len(greetings) > 1
            else "Les réponses viennent toutes de :"
        )
        lines += [f"  - {seen(greetings[n])} ({n})" for n in sorted(greetings)]
    return lines


def _q4(q: Question, url: Callable[[str], str]) -> list[str]:
    lines = _stop_line(q)
    a, b = _pick(q, "A", "A arrêté"), _pick(q, "B", "A arrêté")
    if a:
        lines.append(f"`{url('A')}` : {seen(a)}.")
    if b:
        lines.append(f"`{url('B')}` répond : {seen(b)}.")
    responses = _batch(q, "A arrêté")
    if responses:
        ok = sum(o.ok for o in responses)
        lines.append(
            f"`{url('nginx')}` : {ok} requêtes réussies sur {len(responses)} envoyées juste "
            f"après l'arrêt ({_split(responses)})."
        )
    recovery = q.facts.get("recovery_A_s")
    if recovery is not None:
        lines.append(
            f"Une fois A redémarré, nginx lui envoie de nouveau des requêtes "
            f"{number(recovery)} s après son retour."
        )
    return lines


_OBSERVED = {"Q1": _q1, "Q2": _q2, "Q3": _q3, "Q4": _q4}


def answer(q: Question, lab: Lab) -> str:
    """The Markdown answer to one question."""
    if q.status == "not-run":
        return "*Non vérifié : cette vérification n'a pas été exécutée.*"
    lines: list[str] = []
    for line in _OBSERVED[q.id](q, lab.declared_url):
        if line.startswith("  - ") and lines and lines[-1].startswith("- "):
            lines[-1] += "\n" + line[2:]  # one list, in one block
        else:
            lines.append(line[2:] if line.startswith("  - ") else f"→ {line}")
    if q.status == "passed":
        lines.append(CONCLUSIONS[q.id])
    else:
        # Diagnostics and notes are labcheck's own Markdown (`ip_hash`, `backup`…).
        diagnostic = html.escape(q.diagnostic or "cause inconnue", quote=False)
        lines.append(f"**Vérification échouée** : {diagnostic}")
    lines += [f"*Remarque : {note}*" for note in q.notes]
    return "\n\n".join(lines)


_STEPS = {
    "direct": "directement",
    "": "via nginx",
    "avant l'arrêt": "avant l'arrêt",
    "A arrêté": "A arrêté",
    "retour de A": "après le retour de A",
}


def evidence(q: Question, url: Callable[[str], str]) -> str:
    """A short Markdown table of what the check's requests saw, grouped."""
    groups: dict[tuple[str, str, str, str], list[Observation]] = {}
    attributed = bool(q.facts.get("greetings"))  # else the address says who answered
    for o in q.observations:
        direct = o.target if o.target in ("A", "B") and not attributed else None
        who = (o.server or direct or "non attribué") if o.ok else "—"
        key = (_STEPS.get(o.label, o.label), o.target, o.outcome, who)
        groups.setdefault(key, []).append(o)
    if not groups:
        return ""
    rows = [
        "| Étape | Adresse | Résultat | Latence (médiane) | Serveur | Requêtes |",
        "|---|---|---|---|---|---|",
    ]
    for (step, target, outcome, who), seen_ in groups.items():
        latency = sorted(o.latency_ms for o in seen_)[len(seen_) // 2]
        rows.append(
            f"| {step} | `{url(target)}` | {outcome} | {number(latency)} ms | {who} "
            f"| {len(seen_)} |"
        )
    greetings = q.facts.get("greetings") or {}
    exact = [
        f"Message exact de {name} : `{text.replace('`', ' ')}`"
        for name, text in sorted(greetings.items())
        if text
    ]
    return "\n".join(rows) + ("\n\n" + "\n\n".join(exact) if exact else "")


def nginx_facts(described: dict[str, Any] | None) -> str:
    """nginx as it ran, as a Markdown table."""
    if not described:
        return ""
    where = (
        "lu dans la configuration qui a tourné"
        if described.get("as_run")
        else "d'après le nginx.conf de l'équipe"
    )
    zone = "oui" if described.get("zone") else "non (chaque worker a son propre tour)"
    rows = [
        f"*{where}*",
        "",
        "| Réglage | Valeur |",
        "|---|---|",
        f"| Version | {described.get('version')} |",
        f"| worker_processes | {described.get('worker_processes')} |",
        f"| Upstream | {described.get('upstream') or 'aucun'} |",
        f"| Répartition | {described.get('method') or '—'} |",
        f"| zone partagée | {zone} |",
        f"| proxy_next_upstream | {described.get('proxy_next_upstream')} |",
        f"| listen | {', '.join(described.get('listen') or []) or '—'} |",
    ]
    for server in described.get("servers", []):
        as_run = server.get("as_run")
        ran = f" (exécuté sur {as_run})" if as_run and as_run != server["address"] else ""
        extra = ", backup" if server.get("backup") else ""
        rows.append(
            f"| server {server['address']}{ran} | max_fails={server['max_fails']}, "
            f"fail_timeout={server['fail_timeout']}, weight={server['weight']}{extra} |"
        )
    return "\n".join(rows)
