#!/usr/bin/env bash
# make demo: run the quickstart campaign under mpirun with 3 ranks (rank 0 coordinates, ranks 1-2
# work), then show its results by SQL and its Pareto front.  The database is demo.db in the
# current directory; run it again and it resumes (nothing reruns); `--fresh` starts over.
set -euo pipefail
BIN=${1:-build/divsweep}
DIR=$(cd "$(dirname "$0")" && pwd)
DB=${DS_DEMO_DB:-demo.db}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_odls_base_sigkill_timeout=0
echo "== mpirun -np 3 $BIN run experiments/quickstart.json --db $DB"
mpirun --oversubscribe -np 3 "$BIN" run "$DIR/quickstart.json" --db "$DB" ${DS_DEMO_FLAGS:-}
echo
echo "== $BIN status --db $DB"
"$BIN" status --db "$DB" --campaign quickstart
echo
echo "== mean final divergence and student entropy by temperature and learning rate (over 3 seeds)"
"$BIN" query --db "$DB" "SELECT temperature, round(lr, 3) AS lr, count(*) AS n, printf('%.5f', avg(fkl)) AS fkl,
  printf('%.5f', avg(rkl)) AS rkl, printf('%.4f', avg(entropy)) AS entropy,
  printf('%.4f', avg(teacher_entropy)) AS teacher_entropy FROM v_quickstart GROUP BY 1, 2 ORDER BY 1, 2"
echo
echo "== $BIN pareto --db $DB --campaign quickstart   (objectives: fkl min, entropy max; means over seeds)"
"$BIN" pareto --db "$DB" --campaign quickstart
