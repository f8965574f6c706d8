#!/usr/bin/env bash
# The Quickstart's main job: a real campaign end to end on one machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
scripts/bootstrap.sh
scripts/ensure-services.sh rabbitmq
exec .venv/bin/clarion demo "$@"
