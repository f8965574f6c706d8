#!/usr/bin/env bash
# Create .venv and install Clarion with the exact versions CI tested (constraints.txt).
# Idempotent: does nothing when the venv already matches pyproject.toml + constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CLARION_VENV:-.venv}
PY=${PYTHON:-python3}

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Clarion needs Python 3.11 or newer ($PY is $("$PY" -V 2>&1))" >&2
  exit 1
fi
if ! "$PY" -m venv --help >/dev/null 2>&1 || ! "$PY" -c 'import ensurepip' 2>/dev/null; then
  echo "installing python3-venv with apt" >&2
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi
stamp_now=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.clarion-stamp" 2>/dev/null)" = "$stamp_now" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
echo "installing Clarion and its pinned dependencies into $VENV (about a minute)" >&2
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[test]" 2>&1 \
  | grep -v -e "^WARNING: Location" -e "is ignored: it is neither" || true
"$VENV/bin/python" -c "import clarion, prefect, pika" \
  || { echo "installation failed" >&2; exit 1; }
echo "$stamp_now" > "$VENV/.clarion-stamp"
