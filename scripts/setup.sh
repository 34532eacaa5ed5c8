#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine for labcheck: a virtual environment in .venv with
# labcheck and its dependencies, and nginx (Debian package). Safe to run again: it only
# does what is missing. Sourced by run.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'labcheck : %s\n' "$*" >&2; }

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$candidate; break
  fi
done
if [ -z "$python" ]; then
  say "Python 3.11 ou plus récent est nécessaire : sudo apt-get install -y python3 python3-venv"
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  say "création de l'environnement virtuel .venv"
  "$python" -m venv .venv || {
    say "échec de « python3 -m venv » : installez-le avec sudo apt-get install -y python3-venv"
    exit 1
  }
fi
stamp=.venv/.labcheck-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installation des dépendances Python dans .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  touch "$stamp"
fi

# Debian packages: nginx always; chromium and its driver for the tests (LABCHECK_BROWSER=1),
# which open rapport.html in a real browser.
packages=()
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ] && [ -z "${LABCHECK_NGINX:-}" ]; then
  packages+=(nginx)
fi
if [ "${LABCHECK_BROWSER:-}" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  packages+=(chromium chromium-driver)
fi
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else
    say "à installer : sudo apt-get install -y ${packages[*]}"
    exit 1
  fi
  say "installation de ${packages[*]} (paquets Debian)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi
