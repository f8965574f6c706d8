#!/usr/bin/env bash
# The whole test suite against real RabbitMQ, SQLite, PostgreSQL and Prefect.
# Installs and starts what it needs.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
scripts/bootstrap.sh
scripts/ensure-services.sh rabbitmq postgresql
[ -x scripts/ensure-prometheus.sh ] && scripts/ensure-prometheus.sh
scripts/ensure-chromium.sh     # Debian chromium for the browser tests (Playwright drives it)
PY=.venv/bin/python

run() {  # pytest exits 5 when it collects nothing: that is a failure here
  local label=$1; shift
  echo "=== tests on $label ==="
  set +e; "$PY" -m pytest "$@"; local rc=$?; set -e
  [ $rc -eq 5 ] && { echo "no tests ran on $label" >&2; return 1; }
  return $rc
}

run SQLite -q "$@"
CLARION_TEST_DB=postgresql run PostgreSQL -q "$@"
# The HA drill (docs/SCALING.md) last and on its own: it restarts PostgreSQL, brings up its
# own cluster, hosts and Prefect server, and takes a few minutes. A run with pytest arguments
# (a subset) leaves it out; `scripts/ha-drill.sh` runs it with its figures.
if [ $# -eq 0 ]; then
  CLARION_HA_DRILL=1 run "the HA drill" -q tests/ha/test_drill.py
fi
