"""HTTP probes: one request, classified, timed, and only ever sent to loopback."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from labcheck.errors import LabcheckError
from labcheck.network import is_loopback

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0
_BODY_LIMIT = 2000

ERRORS_FR = {
    "refused": "connexion refusée",
    "timeout": "délai dépassé (aucune réponse)",
    "reset": "connexion interrompue",
    "error": "erreur de connexion",
}


class NotLoopback(LabcheckError):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url

    def __str__(self) -> str:
        return (
            f"refus de contacter {self.url} : labcheck n'envoie rien hors de la boucle locale "
            "(127.0.0.0/8, ::1) quand il exécute le laboratoire sur cette machine"
        )


@dataclass
class Observation:
    """What one request saw."""

    target: str  # "A", "B" or "nginx": where it was sent
    url: str
    at: str
    latency_ms: float
    status: int | None = None
    body: str | None = None
    error: str | None = None  # "refused", "timeout", "reset", "error"
    detail: str | None = None
    server: str | None = None  # who answered, from the greeting: "A", "B" or None
    label: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def greeting(self) -> str:
        return greeting(self.body or "")

    @property
    def outcome(self) -> str:
        """A short French description: « HTTP 200 », « connexion refusée »."""
        if self.error:
            return ERRORS_FR[self.error]
        return f"HTTP {self.status}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def now() -> str:
    """This instant, as observations record it (UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def greeting(body: str) -> str:
    """The visible text of a page: '<h2>Hello</h2>' -> 'Hello'."""
    text = html.unescape(re.sub(r"<[^>]*>", " ", body))
    return " ".join(text.split())


def get(
    target: str,
    url: str,
    *,
    session: requests.Session | None = None,
    label: str = "",
    allowed: Callable[[str], bool] = is_loopback,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
) -> Observation:
    """GET ``url`` once and describe what happened; never raises for network errors.

    ``allowed`` says which hosts may be contacted: loopback only, unless the lab is the
    team's own machines (then their declared addresses, and nothing else).
    """
    host = urlsplit(url).hostname or ""
    if not allowed(host):
        raise NotLoopback(url)
    at = now()
    began = time.perf_counter()
    sender = session or requests
    try:
        response = sender.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as e:
        kind = _error_kind(e)
        return Observation(
            target, url, at, _ms(began), error=kind, detail=type(e).__name__, label=label
        )
    return Observation(
        target,
        url,
        at,
        _ms(began),
        status=response.status_code,
        body=response.text[:_BODY_LIMIT],
        label=label,
    )


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 1)


def _error_kind(error: BaseException) -> str:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "refused"
        if isinstance(seen, ConnectionResetError):
            return "reset"
        if isinstance(seen, requests.Timeout | TimeoutError):
            return "timeout"
        seen = seen.__cause__ or seen.__context__ or _wrapped(seen)
    return "refused" if "refused" in str(error).lower() else "error"


def _wrapped(error: BaseException) -> BaseException | None:
    # urllib3 keeps the OS error in .reason, several levels down, not in __cause__.
    for attr in ("reason", "args"):
        value = getattr(error, attr, None)
        if isinstance(value, BaseException):
            return value
        if isinstance(value, tuple):
            for item in value:
                if isinstance(item, BaseException):
                    return item
    return None
