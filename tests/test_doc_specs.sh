#!/usr/bin/env bash
# Every ```json block in README.md, docs/*.md and experiments/README.md is a spec that
# `divsweep validate` must accept.  A block that is not a spec (a JSON output, a fragment) is
# fenced as ```json nospec and skipped.  Relative .npy paths in a spec resolve against the
# directory of the document (validate runs there).
set -u
BIN=${DS_BIN:?DS_BIN}
SRC=${DS_SRC:?DS_SRC}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
for doc in "$SRC"/README.md "$SRC"/docs/*.md "$SRC"/experiments/README.md; do
  [ -f "$doc" ] || continue
  rel=${doc#"$SRC"/}
  # One file per block: <tmp>/<k>.json, its first line number in <tmp>/<k>.line.
  rm -f "$tmp"/blk_*
  awk -v out="$tmp/blk_" '
    /^```json[ \t]*$/ { inb = 1; k++; f = out k ".json"; print NR + 1 > (out k ".line"); next }
    inb && /^```/     { inb = 0; close(f); next }
    inb               { print > f }
  ' "$doc"
  for f in "$tmp"/blk_*.json; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    line=$(cat "${f%.json}.line")
    if ! msg=$(cd "$(dirname "$doc")" && "$BIN" validate "$f" --show 0 2>&1); then
      echo "FAIL $rel:$line: $msg" | sed "s#$tmp/##"
      bad=$((bad + 1))
    fi
  done
done
echo "$n spec blocks, $bad invalid"
[ "$n" -gt 0 ] || { echo "FAIL no spec blocks found"; exit 1; }
[ "$bad" -eq 0 ]
