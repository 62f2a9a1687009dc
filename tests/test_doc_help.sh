#!/usr/bin/env bash
# The tables of docs/tasks.md and docs/divergences.md are exactly what `divsweep help TOPIC`
# prints (both come from worker/params.c, the table the validator checks against), every task and
# every divergence the kernels know has one, and `--help` works after every command.
set -u
BIN=${DS_BIN:?DS_BIN}
SRC=${DS_SRC:?DS_SRC}
fail=0
bash "$SRC/docs/gen_help.sh" "$BIN" --check || fail=1
for t in noop distill rlvr fdpo logits; do
  grep -q "^<!-- help $t -->$" "$SRC/docs/tasks.md" || { echo "FAIL docs/tasks.md has no table for task $t"; fail=1; }
  "$BIN" help "$t" > /dev/null || { echo "FAIL divsweep help $t"; fail=1; }
done
for d in fkl rkl jsd skl srkl tvd hellinger chi2 chi2n renyi amari ab cs wmix w1 sinkhorn entropy; do
  "$BIN" help divergences | grep -q "^| \`$d\` |" || { echo "FAIL help divergences lacks $d"; fail=1; }
done
for c in run resume validate status pareto query report repair kernel; do
  out=$("$BIN" $c --help 2>&1) || { echo "FAIL divsweep $c --help: exit $? ($out)"; fail=1; }
done
"$BIN" help nosuchtopic > /dev/null 2>&1 && { echo "FAIL help of an unknown topic exits 0"; fail=1; }
[ $fail -eq 0 ] && echo "docs agree with divsweep help"
exit $fail
