#!/usr/bin/env bash
# Runs test_resume_torture.py (issue 11's resume torture) under the system's python3.
#   test_resume_torture.sh           the bounded run (make test): ~6 campaigns, 10^2..10^3 trials (the second and about
#                                    one in four others: exec campaigns of 6..16 trials), <= ~40 s (no new campaign after 30 s)
#   test_resume_torture.sh soak      the soak: DS_TORTURE_CAMPAIGNS (default 40) campaigns up to 10^4
#                                    trials, no time budget; skipped unless DS_TORTURE_SOAK=1
# DS_TORTURE_SEED=N replays a run; the script prints the seed and, on failure, every command it ran.
set -euo pipefail
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
if [ -z "$PY" ]; then echo "no python3: skipped"; exit 77; fi
if [ "${1:-}" = soak ]; then
  if [ "${DS_TORTURE_SOAK:-0}" = 0 ]; then
    echo "soak skipped: set DS_TORTURE_SOAK=1 (and optionally DS_TORTURE_CAMPAIGNS, DS_TORTURE_SEED) to run it"
    exit 77
  fi
  export DS_TORTURE_CAMPAIGNS=${DS_TORTURE_CAMPAIGNS:-40}
  export DS_TORTURE_MAX_TRIALS=${DS_TORTURE_MAX_TRIALS:-10000}
  export DS_TORTURE_BUDGET_S=${DS_TORTURE_BUDGET_S:-0}
fi
exec "$PY" "$(dirname "$0")/test_resume_torture.py"
