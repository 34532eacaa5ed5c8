"""Misbehaves on purpose: ignores SIGINT and SIGTERM, as a server stuck in a handler would."""

import os
import runpy
import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
runpy.run_path(os.path.join(os.path.dirname(__file__), "app.py"), run_name="__main__")
