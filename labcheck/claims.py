"""What a team says it saw, question by question: from its results.json or its rapport.md.

A claim is "conforme" when the team reports the behaviour the lab expects (A answers,
A refuses once stopped, nginx alternates, nginx still answers without A), "non conforme"
when it reports something else (8181 stops answering, only A answers), and None when the
team does not answer the question. Hand-written reports are read with a few French
patterns, line by line; the line that decided is kept, to be quoted back to the team.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

QUESTION_IDS = ("Q1", "Q2", "Q3", "Q4")
CONFORME, NON_CONFORME = "conforme", "non conforme"


@dataclass(frozen=True)
class Claim:
    question: str
    says: str | None  # CONFORME, NON_CONFORME, or None: not answered
    quote: str = ""  # what the team wrote or recorded
    source: str = ""  # "results.json" or "rapport.md"


def from_results(data: dict[str, Any]) -> dict[str, Claim]:
    """The statuses a labcheck run recorded on the team's machine."""
    says = {"passed": CONFORME, "failed": NON_CONFORME, "error": NON_CONFORME}
    found = {q.get("id"): q for q in data.get("questions", []) if isinstance(q, dict)}
    claims = {}
    for qid in QUESTION_IDS:
        status = str(found.get(qid, {}).get("status", "absent"))
        claims[qid] = Claim(qid, says.get(status), f"statut « {status} »", "results.json")
    return claims


# A French report, accents and case folded: "ne répond plus" -> "ne repond plus".
_DOWN = re.compile(
    r"\bne (?:repond|fonctionne|marche|s'affiche|charge|reagit)\w* (?:plus|pas|rien)"
    r"|\bn'(?:est|etait) plus (?:accessible|disponible|joignable|actif)"
    r"|\b(?:inaccessible|injoignable|indisponible|hors (?:ligne|service))"
    r"|\brefus|\berreur|\bechec|\bimpossible|\bplus rien\b|\b50[0-4]\b|\btime ?out"
)
_UP = re.compile(
    r"\b(?:repond|fonctionne|marche|affiche|accessible|disponible|joignable|continue|recoit"
    r"|hello|message|toujours)"
)
_ALTERNATES = re.compile(
    r"\balterne|\btour a tour|\brepar?ti|\bdistribu|\bbalanc|round.?robin"
    r"|l'un (?:puis|apres) l'autre"
)
_ONE_SERVER = re.compile(
    r"\b(?:toujours|seulement|uniquement) (?:le meme|la meme|a\b|b\b|un seul)|\bun seul serveur"
)
_TAKES_OVER = re.compile(r"\bredirig|\bbascul|\bprend le relais|\btolerance|\bcontinue")
_HEADING = re.compile(r"^\s*(?:#+\s*)?(?:\*\*)?\s*(?:q|question\s*)([1-4])\b", re.IGNORECASE)
_SECTION_END = re.compile(r"^\s*#{1,2}\s")  # "## Conclusion" ends the answers
_VERIFIED = re.compile(
    r"\*v[eé]rifi[eé] : .* — (r[eé]ussie|[eé]chou[eé]e|erreur|non ex[eé]cut[eé]e)"
)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("’", "'")).lower()
    return "".join(c for c in text if not unicodedata.combining(c))


def _unescape(text: str) -> str:
    """Markdown exported with escapes (\\# \\*\\*), as some editors do."""
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!>|~<])", r"\1", text)


def sections(text: str) -> dict[str, list[str]]:
    """The lines of each answer Q1-Q4 in a Markdown report."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in _unescape(text).splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = found.setdefault(f"Q{heading.group(1)}", [])
            continue
        if _SECTION_END.match(line):
            current = None
        elif current is not None and line.strip():
            current.append(line.strip())
    return found


def from_report(text: str) -> dict[str, Claim]:
    """The claims of a rapport.md, written by labcheck or by hand."""
    found = sections(text)
    return {qid: _claim(qid, found.get(qid, [])) for qid in QUESTION_IDS}


def _claim(qid: str, lines: list[str]) -> Claim:
    for line in lines:  # a report written by labcheck says its verdict
        verified = _VERIFIED.search(_fold(line))
        if verified:
            status = verified.group(1)
            recorded = {"reussie": CONFORME, "non executee": None}.get(status, NON_CONFORME)
            return Claim(qid, recorded, line, "rapport.md")
    read, quote = _READERS[qid](lines)
    return Claim(qid, read, quote[:200], "rapport.md")


def _first(lines: list[str], pattern: re.Pattern[str]) -> str | None:
    return next((line for line in lines if pattern.search(_fold(line))), None)


def _read_q1(lines: list[str]) -> tuple[str | None, str]:
    if line := _first(lines, _DOWN):
        return NON_CONFORME, line
    if line := _first(lines, _UP):
        return CONFORME, line
    return None, ""


def _read_q2(lines: list[str]) -> tuple[str | None, str]:
    if line := _first(lines, _DOWN):  # A's address stops answering: what is expected
        return CONFORME, line
    if line := _first(lines, _UP):
        return NON_CONFORME, line
    return None, ""


def _read_q3(lines: list[str]) -> tuple[str | None, str]:
    if line := _first(lines, _ONE_SERVER) or _first(lines, _DOWN):
        return NON_CONFORME, line
    if line := _first(lines, _ALTERNATES):
        return CONFORME, line
    return None, ""


def _read_q4(lines: list[str]) -> tuple[str | None, str]:
    about_nginx = [line for line in lines if re.search(r"8181|nginx", _fold(line))]
    if line := _first(about_nginx, _DOWN):  # "8181 ne répond plus": nginx was stopped
        return NON_CONFORME, line
    if line := _first(about_nginx, _UP) or _first(lines, _TAKES_OVER):
        return CONFORME, line
    return None, ""


_READERS = {"Q1": _read_q1, "Q2": _read_q2, "Q3": _read_q3, "Q4": _read_q4}
