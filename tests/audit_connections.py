"""pytest plugin for the tests: log every socket.connect of the process to $AUDIT_FILE."""

import atexit
import os
import sys

_log = open(os.environ["AUDIT_FILE"], "a", encoding="utf-8")  # noqa: SIM115 - lives with the process
atexit.register(_log.close)


def _hook(event, args):
    if event == "socket.connect" and not _log.closed:
        address = args[1]
        _log.write(f"{address[0] if isinstance(address, tuple) else address}\n")
        _log.flush()


sys.addaudithook(_hook)
