#!/usr/bin/env bash
# The harness's own tests (lint included). As root with util-linux and iproute2 they run in
# a private network namespace that holds only loopback: nothing can leave the machine.
set -euo pipefail
cd "$(dirname "$0")"
export LABCHECK_BROWSER=1  # the report is opened in headless Chromium
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
tests=(.venv/bin/pytest tests/ "$@")
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
   unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${tests[@]}"
fi
exec "${tests[@]}"
