"""Run a team's Flask script as it is written, on the team's network mapped to loopback.

``python -m labcheck.teamapp SCRIPT`` runs SCRIPT as ``python SCRIPT`` would (its own
``__main__``, its imports, its debug reloader), with one change: ``app.run(host, port)``
listens where that (host, port) of the team's machine lands here (see
``labcheck.network.Machine``), given as JSON in $LABCHECK_MACHINE, or, for
``labcheck serve``, at the one address $LABCHECK_BIND. What the script asked for, and
where it landed, is written as JSON to $LABCHECK_BINDING before the server starts. A
host that is no address of the machine fails as the OS would fail it.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labcheck.network import Binding, Endpoint, Machine

_RELOADED = "WERKZEUG_RUN_MAIN"  # set by Werkzeug in the reloader's child


def _record(path: Path, binding: Binding) -> None:
    data = {
        "host": binding.host,
        "port": binding.port,
        "endpoint": str(binding.endpoint) if binding.endpoint else None,
        "scope": binding.scope,
    }
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data), encoding="utf-8")
    partial.replace(path)  # the parent never reads half a record


def _patch_flask(bind: Callable[[str, int], Binding], record: Path | None, script: Path) -> None:
    from flask import Flask

    original = Flask.run

    def run(self: Flask, host: str | None = None, port: Any = None, *args: Any, **kw: Any) -> None:
        # Flask's own defaults: 127.0.0.1 and 5000.
        binding = bind(host if host is not None else "127.0.0.1", int(port or 5000))
        if record and not os.environ.get(_RELOADED):  # the reloader's child: parent's socket
            _record(record, binding)
        if binding.endpoint is None:
            raise OSError(errno.EADDRNOTAVAIL, f"Cannot assign requested address: '{host}'")
        original(self, binding.endpoint.host, binding.endpoint.port, *args, **kw)

    Flask.run = run  # type: ignore[method-assign]

    try:  # the debug reloader starts the script again: through this runner, not bare
        from werkzeug import _reloader

        arguments = sys.argv[1:]
        _reloader._get_args_for_reloading = lambda: [
            sys.executable, "-m", "labcheck.teamapp", str(script), *arguments
        ]  # fmt: skip
    except (ImportError, AttributeError):
        pass


def _limit_resources() -> None:
    """Bounds for an untrusted submission's code ($LABCHECK_LIMITS, set by the grader).

    CPU time, memory, open files, processes of this user, and the size of any file it
    writes: its log is one, so a flood of output ends the process, not the disk.
    """
    import resource

    import psutil

    uid = os.getuid()
    mine = sum(
        1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid
    )
    for limit, value in (
        (resource.RLIMIT_CPU, 60),
        (resource.RLIMIT_AS, 4 * 2**30),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_NPROC, mine + 64),
        (resource.RLIMIT_FSIZE, 20 * 2**20),
    ):
        _, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, hard))
    # Python ignores SIGXFSZ (a write past the limit then fails, and so does the traceback):
    # let the signal end the process, so that the checks can tell why it ended.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)


def _fixed(endpoint: Endpoint) -> Callable[[str, int], Binding]:
    return lambda host, port: Binding(host, port, endpoint, "public")


def _machine() -> Machine:
    return Machine.from_json(os.environ["LABCHECK_MACHINE"])


def main() -> None:
    if os.environ.get("LABCHECK_LIMITS"):
        _limit_resources()
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        # Started in the background by a shell (a `start:` command, nohup), Python would
        # ignore Ctrl+C: give the script the Ctrl+C it has in a terminal.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    script = Path(sys.argv[1]).resolve()
    fixed = os.environ.get("LABCHECK_BIND")  # `labcheck serve`: one address, whatever asked
    bind = _fixed(Endpoint.parse(fixed)) if fixed else _machine().bind
    record = os.environ.get("LABCHECK_BINDING")
    sys.argv = [str(script), *sys.argv[2:]]
    _patch_flask(bind, Path(record) if record else None, script)
    # What ``python SCRIPT`` does: the script's folder first on the path, a fresh __main__.
    sys.path[0] = str(script.parent)
    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    code = compile(script.read_bytes(), str(script), "exec")
    exec(code, module.__dict__)


if __name__ == "__main__":
    main()
