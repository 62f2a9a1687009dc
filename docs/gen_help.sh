#!/usr/bin/env bash
# Regenerates the tables of docs/*.md that `divsweep help` prints: each block between
# <!-- help TOPIC --> and <!-- end help --> is replaced by `divsweep help TOPIC`.
# Usage: docs/gen_help.sh [BIN] [--check]   (--check: exit 1 and show a diff if a doc is stale)
set -eu
BIN=${1:-build/divsweep}
check=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for doc in "$here"/*.md; do
  out=$(mktemp)
  awk -v bin="$BIN" '
    /^<!-- help [a-z]+ -->$/ { print; topic = $3; cmd = bin " help " topic; while ((cmd | getline l) > 0) print l; close(cmd); skip = 1; next }
    /^<!-- end help -->$/    { skip = 0 }
    !skip                    { print }
  ' "$doc" > "$out"
  if [ "$check" = --check ]; then
    if ! diff -u "$doc" "$out"; then echo "STALE $doc (run docs/gen_help.sh)"; status=1; fi
    rm -f "$out"
  else
    mv "$out" "$doc"
  fi
done
exit $status
