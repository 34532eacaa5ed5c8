"""What each question observed: requests, stops, facts, and the verdict pytest gave."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import requests

from labcheck import probes
from labcheck.polling import poll
from labcheck.probes import Observation

if TYPE_CHECKING:
    from labcheck.processes import StopReport
    from labcheck.running import RunningLab


@dataclass(frozen=True)
class QuestionInfo:
    id: str
    handout: str  # the handout's own number for it
    title: str
    check: str  # what labcheck verifies, in one French sentence


QUESTIONS = {
    q.id: q
    for q in (
        QuestionInfo(
            "Q1",
            "6",
            "Que voit-on quand on lance Flask ?",
            "chaque serveur répond 200 à sa propre adresse, avec son propre message",
        ),
        QuestionInfo(
            "Q2",
            "17a",
            "Que se passe-t-il quand on arrête Flask ?",
            "A répond, puis, une fois Flask A arrêté (Ctrl+C), son adresse refuse la connexion",
        ),
        QuestionInfo(
            "Q3",
            "16",
            "Que se passe-t-il via Nginx ?",
            "les requêtes envoyées à nginx sont servies tour à tour par A et par B",
        ),
        QuestionInfo(
            "Q4",
            "17b",
            "Quand Flask A est arrêté ?",
            "A arrêté : A refuse, B répond, nginx répond à toutes les requêtes (par B)",
        ),
    )
}

STATUS_FR = {
    "passed": "réussie",
    "failed": "échouée",
    "error": "erreur",
    "skipped": "ignorée",
    "not-run": "non exécutée",
}


@dataclass
class Question:
    """The evidence one check gathers, and what pytest concluded."""

    id: str
    lab: RunningLab | None = field(default=None, repr=False, compare=False)
    status: str = "not-run"
    diagnostic: str | None = None
    precondition_failed: bool = False  # failed before the question itself could be asked
    observations: list[Observation] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def info(self) -> QuestionInfo:
        return QUESTIONS[self.id]

    def _lab(self) -> RunningLab:
        if self.lab is None:
            raise RuntimeError("no running lab")
        return self.lab

    def probe(self, target: str, label: str = "") -> Observation:
        """One request to A, B or nginx, recorded."""
        url = self._lab().endpoint(target).url
        observation = probes.get(target, url, label=label, allowed=self._lab().may_contact)
        return self._keep(observation)

    def probe_many(self, target: str, count: int, label: str = "") -> list[Observation]:
        """``count`` requests in a row on one keep-alive connection, as a browser refreshing."""
        url = self._lab().endpoint(target).url
        with requests.Session() as session:
            return [
                self._keep(
                    probes.get(
                        target, url, session=session, label=label, allowed=self._lab().may_contact
                    )
                )
                for _ in range(count)
            ]

    def references(self) -> dict[str, Observation]:
        """A and B asked directly: their greetings attribute every other response."""
        found = {name: self.probe(name, "direct") for name in ("A", "B")}
        self.facts["greetings"] = {
            name: (o.greeting if o.ok and o.greeting else None) for name, o in found.items()
        }
        for observation in self.observations:
            self._attribute(observation)
        return found

    def event(self, what: str) -> None:
        """A moment of the check (A stopped, A restarted), for the timeline."""
        self.facts.setdefault("events", []).append({"what": what, "at": probes.now()})

    def restarted(self, name: str) -> None:
        self.event(f"{name} redémarré")

    def stopped(self, name: str, report: StopReport) -> None:
        self.event(f"{name} arrêté")
        stop = {"server": name, "signal": report.signal, "seconds": round(report.seconds, 3)}
        self.facts.setdefault("stops", []).append(
            {**stop, "command": report.command} if report.command else stop
        )
        if report.escalated:
            self.notes.append(
                f"Flask {name} n'a pas réagi à Ctrl+C (SIGINT) : labcheck l'a arrêté de force "
                f"(SIGKILL) après {report.seconds:.1f} s. Un serveur doit s'arrêter sur Ctrl+C."
            )

    def measure_recovery(self, server: str, timeout: float) -> float | None:
        """Seconds until nginx sends a request to ``server`` again (None: not within timeout)."""
        url = self._lab().endpoint("nginx").url
        greeting = (self.facts.get("greetings") or {}).get(server)
        if not greeting:
            return None
        began = time.perf_counter()
        last = poll(
            lambda: self._keep(
                probes.get("nginx", url, label="retour de A", allowed=self._lab().may_contact)
            ),
            lambda o: o.greeting == greeting,
            timeout=timeout,
            interval=0.05,
        )
        if last.greeting != greeting:
            return None
        elapsed = round(time.perf_counter() - began, 2)
        self.facts[f"recovery_{server}_s"] = elapsed
        return elapsed

    def check(self, problem: str | None) -> None:
        """Fail the check with a French diagnostic when there is a problem."""
        if problem:
            self.diagnostic = problem
            pytest.fail(problem, pytrace=False)

    def precondition(self, problem: str | None) -> None:
        """Like ``check``, for what must hold before the question can be asked at all."""
        self.precondition_failed = problem is not None
        self.check(problem)

    def _keep(self, observation: Observation) -> Observation:
        self._attribute(observation)
        self.observations.append(observation)
        return observation

    def _attribute(self, observation: Observation) -> None:
        greetings = self.facts.get("greetings") or {}
        matches = [n for n, g in greetings.items() if g and g == observation.greeting]
        observation.server = matches[0] if len(matches) == 1 and observation.ok else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "handout": self.info.handout,
            "title": self.info.title,
            "status": self.status,
            "diagnostic": self.diagnostic,
            "precondition_failed": self.precondition_failed,
            "facts": self.facts,
            "notes": self.notes,
            "observations": [o.as_dict() for o in self.observations],
        }
