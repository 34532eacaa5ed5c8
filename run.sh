#!/usr/bin/env bash
# Main job: starts the lab described by lab.yaml (the embedded one by default), runs the
# checks Q1-Q4 and writes report/rapport.md, report/results.json and report/pytest.html.
# Extra arguments go to pytest, e.g. ./run.sh --lab ../equipe/lab.yaml -x
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/pytest checks/ "$@"
