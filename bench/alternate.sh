#!/usr/bin/env bash
# Compare two checkouts side by side when --ab cannot (the schema differs, so each side must
# run its own bench/broadcast.py): runs alternate ABBA between this checkout ("new") and
# another one ("old"), e.g. a worktree of an earlier commit.
#
#   git worktree add /tmp/wt-old e601591
#   bench/alternate.sh /tmp/wt-old session 2 [extra broadcast.py arguments …]
#
# Each side writes its result files to its own bench/results/ (label-new / label-old) and
# runs with its own .venv when it has one (scripts/bootstrap.sh there); extra arguments
# (e.g. --scenario notice) go to both sides' broadcast.py.
set -euo pipefail
OLD=$1; LABEL=$2; PAIRS=${3:-2}; shift 3
EXTRA=("$@")
NEW=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$NEW/.venv/bin/python}
run() {  # side checkout
  local py=$PY
  [ -x "$2/.venv/bin/python" ] && py=$2/.venv/bin/python
  (cd "$2" && PYTHONPATH="$2" "$py" bench/broadcast.py --scenario emergency --repeat 1 \
     --label "$LABEL-$1" "${EXTRA[@]}" | grep "e2e [0-9]" | head -1 | sed "s/^/$1: /")
}
for i in $(seq 1 "$PAIRS"); do
  if [ $((i % 2)) -eq 1 ]; then order="new old"; else order="old new"; fi
  for side in $order; do
    if [ "$side" = new ]; then run new "$NEW"; else run old "$OLD"; fi
  done
done
