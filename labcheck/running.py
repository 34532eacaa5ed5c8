"""What the checks need of a running lab, wherever it runs (here, or on the team's machines)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labcheck.config import Lab
    from labcheck.diagnostics import Wiring
    from labcheck.network import Endpoint
    from labcheck.processes import StopReport


class RunningLab(ABC):
    """A, B and nginx, reachable; Flask A can be stopped and started again."""

    lab: Lab

    @abstractmethod
    def endpoint(self, name: str) -> Endpoint:
        """Where A, B or nginx is asked."""

    @abstractmethod
    def may_contact(self, host: str) -> bool:
        """Whether a request may be sent to ``host`` (nothing else is ever contacted)."""

    @abstractmethod
    def launch(self) -> None: ...

    @abstractmethod
    def wait_ready(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def stop(self, name: str) -> StopReport: ...

    @abstractmethod
    def start(self, name: str) -> None: ...

    @abstractmethod
    def wiring(self) -> Wiring:
        """How the team's files wire the lab, for the diagnostics."""

    @abstractmethod
    def logs(self) -> dict[str, str]:
        """What to show beside a failed check."""

    @abstractmethod
    def meta(self) -> dict[str, Any]:
        """What results.json says of this run."""

    @abstractmethod
    def notes(self) -> list[str]:
        """Remarks for the terminal."""

    @contextmanager
    def stopped(self, name: str) -> Iterator[StopReport]:
        """Stop a server for the block, and have it started again whatever happened."""
        report = self.stop(name)
        try:
            yield report
        finally:
            self.start(name)
