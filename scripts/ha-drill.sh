#!/usr/bin/env bash
# The high-availability drill (docs/SCALING.md): emergency campaigns through a 3-node RabbitMQ
# cluster, worker hosts in network namespaces, a Prefect work pool and PostgreSQL, while a
# RabbitMQ node stops, a host's link is cut, PostgreSQL restarts and a Prefect worker is killed.
#
#   scripts/ha-drill.sh [--recipients N] [--cases rabbit-leader,link-cut,…] [--out FILE]
#
# Runs as root. Restarts the machine's PostgreSQL (a few seconds each time; other users of it
# lose their connections). Whatever happens, it removes what it made: the namespaces, links and
# bridge, the cluster's nodes and folder, PostgreSQL's added listen address and pg_hba line.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "ha-drill: run as root (network namespaces)" >&2; exit 1; }
scripts/bootstrap.sh
scripts/ensure-services.sh rabbitmq postgresql

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  scripts/ha-hosts.sh down || echo "ha-drill: removing the hosts failed" >&2
  scripts/rabbitmq-cluster.sh stop || echo "ha-drill: stopping the cluster failed" >&2
  exit $rc
}
trap cleanup EXIT INT TERM

export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
.venv/bin/python -m tests.ha.drill "$@"
