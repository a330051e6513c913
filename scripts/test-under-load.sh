#!/usr/bin/env bash
# Runs `npm test` N times (default 3) with two CPU-bound processes beside it, as the suite must pass
# on a busy 2-core machine. Usage: scripts/test-under-load.sh [N]. Logs in $TMPDIR/herald-load-<i>.log.
set -u
cd "$(dirname "$0")/.."
n=${1:-3}
yes > /dev/null & y1=$!
yes > /dev/null & y2=$!
trap 'kill $y1 $y2 2>/dev/null' EXIT
status=0
for i in $(seq 1 "$n"); do
  log="${TMPDIR:-/tmp}/herald-load-$i.log"
  start=$(date +%s)
  npm test > "$log" 2>&1 || status=1
  echo "run $i: $(( $(date +%s) - start )) s, $(grep -Eo '[0-9]+ (passing|failing)' "$log" | tail -2 | tr '\n' ' ')(log: $log)"
done
exit "$status"
