"""labcheck: turns the 6GEI311 Flask + nginx lab into checks and a French report."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"  # the Q1-Q4 checks

try:
    __version__ = version("labcheck")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
