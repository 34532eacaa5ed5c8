"""Waiting by polling with a deadline, never by sleeping a fixed time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

T = TypeVar("T")


def poll(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    interval: float = 0.02,
) -> T:
    """Call ``probe`` until ``done(result)`` or the deadline; return the last result."""
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda result: not done(result)),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=True,
    )
    return retrying(probe)
