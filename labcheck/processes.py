"""Lab processes that cannot leak: one session (process group) each, stopped as a group.

Built on mirakuru, which starts every child with ``os.setsid``, marks it (and all its
descendants) with an environment variable, waits for readiness with a deadline, and
kills whatever is left at interpreter exit. On top of it this module adds what the
lab needs: output kept in a log file (a pipe nobody reads would block a chatty
server), a stop that behaves like Ctrl+C and says when it had to escalate, and a
readiness check that fails at once, with the end of the log, when the child exits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
from mirakuru import SimpleExecutor, TCPExecutor
from mirakuru.exceptions import ProcessExitedWithError, TimeoutExpired

from labcheck.errors import StartError
from labcheck.network import Endpoint, ensure_free
from labcheck.polling import poll

_POLL = 0.01  # seconds between two readiness polls


@dataclass(frozen=True)
class StopReport:
    """How a stop went: what was sent, how long it took, whether SIGKILL was needed."""

    signal: str  # what stopped it: "SIGINT", "SIGINT puis SIGKILL", "à la main", "commande"
    seconds: float  # until the stop was observed
    escalated: bool = False
    command: str = ""  # the stop command, when one was run


class _Executor(TCPExecutor):
    """TCPExecutor that remembers a forced kill and fails fast on any early exit."""

    killed = False
    endpoints: Callable[[], list[Endpoint]] = list

    def launch(self) -> None:
        """Popen only: the readiness wait is separate so that A, B and nginx start together."""
        SimpleExecutor.start(self)

    def kill(self, wait: bool = True, sig: int | None = None) -> _Executor:
        if self.running():
            self.killed = True
        super().kill(wait=wait, sig=sig)
        return self

    def after_start_check(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ProcessExitedWithError(self, self.process.returncode)
        return any(_accepts(endpoint) for endpoint in self.endpoints())


def _accepts(endpoint: Endpoint) -> bool:
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=1):
            return True
    except OSError:
        return False


class Service:
    """One lab process (a Flask server or nginx) listening on one endpoint.

    It is ready when one of ``listens()`` accepts connections: by default its endpoint;
    a team's server may listen elsewhere than declared, and the checks then say so.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        endpoint: Endpoint,
        log: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        start_timeout: float = 15.0,
        stop_grace: float = 3.0,
        listens: Callable[[], list[Endpoint]] | None = None,
    ) -> None:
        self.name, self.endpoint, self.log = name, endpoint, log
        self._listens = listens or (lambda: [endpoint])
        self.stop_grace = stop_grace
        self._start_timeout = start_timeout
        self._command, self._env, self._cwd = command, env or {}, cwd
        self._executor: _Executor | None = None
        self._log_file: IO[Any] | None = None

    def launch(self) -> None:
        """Start the process without waiting for it (see ``wait_ready``)."""
        if self._executor is not None:
            raise RuntimeError(f"{self.name} already started")
        ensure_free(self.name, self.endpoint)
        self._log_file = self.log.open("a", encoding="utf-8")
        self._executor = _Executor(
            self._command,
            host=self.endpoint.host,
            port=self.endpoint.port,
            cwd=str(self._cwd) if self._cwd else None,
            timeout=self._start_timeout,
            sleep=_POLL,
            stop_signal=signal.SIGINT,
            envvars={"PYTHONUNBUFFERED": "1", **self._env},
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self._executor.endpoints = self._listens
        self._executor.launch()

    def wait_ready(self) -> None:
        """Poll until the endpoint accepts connections; fail fast if the process exits."""
        executor = self._require_started()
        pgid = executor.process.pid if executor.process else None
        try:
            executor.wait_for(executor.check_subprocess)
        except (ProcessExitedWithError, TimeoutExpired) as e:
            self.kill(pgid)
            code = e.exit_code if isinstance(e, ProcessExitedWithError) else None
            reason = (
                f"le processus s'est arrêté (code {code})"
                if isinstance(e, ProcessExitedWithError)
                else f"rien n'écoute sur {self.endpoint} après {self._start_timeout:g} s"
            )
            raise StartError(self.name, reason, self.tail(), code) from None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def stop(self) -> StopReport:
        """Stop like Ctrl+C: SIGINT to the whole group, SIGKILL after the grace period."""
        executor = self._require_started()
        began = time.monotonic()
        pgid = executor.process.pid if executor.process else None
        executor._timeout = self.stop_grace  # mirakuru's deadline for the stop
        try:
            executor.stop()
        except Exception:  # an exit code other than SIGINT's: the process is gone all the same
            pass
        escalated = executor.killed
        if pgid is not None and not escalated:
            # The leader is gone; its group (a reloader's child, nginx's workers) gets
            # the rest of the grace period, then SIGKILL.
            remaining = max(self.stop_grace - (time.monotonic() - began), _POLL)
            escalated = not _wait_group_gone(pgid, remaining)
        self.kill(pgid)
        return StopReport(
            "SIGINT" + (" puis SIGKILL" if escalated else ""),
            time.monotonic() - began,
            escalated,
        )

    def kill(self, pgid: int | None = None) -> None:
        """Make sure nothing of this service is left, whatever state it is in."""
        if self._executor is not None:
            if self._executor.process is not None:
                pgid = self._executor.process.pid
            self._executor.kill()
        if pgid is not None and _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
            _wait_group_gone(pgid, 5.0)
        self._close()

    def tail(self, lines: int = 20, width: int = 300) -> str:
        """The end of the output: ``lines`` lines of ``width`` characters at most."""
        try:
            with self.log.open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - lines * width * 4))
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(line[:width] for line in text.splitlines()[-lines:])

    def _require_started(self) -> _Executor:
        if self._executor is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._executor

    def _close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
        self._executor = None
        self._log_file = None


def started_by(pid: int) -> list[psutil.Process]:
    """Live processes that labcheck's executors started in process ``pid``.

    mirakuru marks every child, and the children's children, with its parent's pid: a
    process that left its group is still found.
    """
    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            marker = proc.environ().get("mirakuru_uuid", "")
        except psutil.Error:
            continue
        if marker.startswith(f"{pid}:") and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def kill_started_by(pid: int) -> None:
    """SIGKILL whatever process ``pid`` started and left behind (it was killed, say)."""
    for proc in started_by(pid):
        try:
            proc.kill()
        except psutil.Error:
            pass


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in the group.

    Orphans are reaped by PID 1, sometimes late: a zombie holds the group id but
    no port and no CPU, so it does not count.
    """
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    """True when the group is gone within ``timeout``."""
    return not poll(
        lambda: _group_alive(pgid), lambda alive: not alive, timeout=timeout, interval=_POLL
    )
