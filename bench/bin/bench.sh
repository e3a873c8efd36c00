#!/bin/sh
# Runs the benchmark with as many file descriptors as this shell may have (10,000 idle
# connections need ~10,000 in the server process). Arguments go to src/run.ts.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$(dirname "$0")/.." || exit 1
exec node --import tsx src/run.ts "$@"
