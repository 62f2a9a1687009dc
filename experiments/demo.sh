#!/usr/bin/env bash
# make demo: run the quickstart campaign under mpirun with 3 ranks (rank 0 coordinates, ranks 1-2
# work), then show its results by SQL and its Pareto front.  The database is demo.db in the
# current directory; run it again and it resumes (nothing reruns); `--fresh` starts over.
set -euo pipefail
BIN=${1:-build/divsweep}
DIR=$(cd "$(dirname "$0")" && pwd)
DB=${DS_DEMO_DB:-demo.db}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "== mpirun -np 3 $BIN run experiments/quickstart.json --db $DB"
mpirun --oversubscribe -np 3 "$BIN" run "$DIR/quickstart.json" --db "$DB" ${DS_DEMO_FLAGS:-}
echo
echo "== $BIN status --db $DB"
"$BIN" status --db "$DB" --campaign quickstart
echo
echo "== what each divergence does with a two-mode teacher (entropy of the teacher: 2.78 nats)"
"$BIN" query --db "$DB" "SELECT divergence, divergence_alpha AS alpha, temperature, count(*) AS n,
  printf('%.2f', avg(modes_covered)) AS modes_covered, printf('%.3f', avg(entropy)) AS entropy,
  printf('%.2f', avg(mu)) AS mu, printf('%.2f', avg(sigma)) AS sigma, printf('%.4f', avg(fkl)) AS fkl,
  printf('%.4f', avg(rkl)) AS rkl FROM v_quickstart GROUP BY 1, 2, 3 ORDER BY 3, 1, 2"
echo
echo "== $BIN pareto --db $DB   (objectives: fkl min, rkl min)"
"$BIN" pareto --db "$DB" --campaign quickstart
echo
# The answer, read from the store: which divergences keep both modes of the teacher.
echo "== the answer (by SQL on $DB)"
"$BIN" query --db "$DB" --format csv "WITH d AS (SELECT divergence || coalesce('(' || divergence_alpha || ')', '') AS div,
  temperature AS t, avg(modes_covered) AS mc FROM v_quickstart GROUP BY 1, 2)
  SELECT 'At T = ' || printf('%g', t) || ', ' || CASE WHEN max(mc) < 2 THEN 'no divergence covers both teacher modes.'
    WHEN min(mc) >= 2 THEN 'every divergence covers both teacher modes.'
    ELSE group_concat(CASE WHEN mc >= 2 THEN div END, ' ') || ' cover both teacher modes; '
      || group_concat(CASE WHEN mc < 2 THEN div END, ' ') || ' lock onto one.' END AS answer
  FROM d GROUP BY t ORDER BY t" | tail -n +2 | sed 's/^"//; s/"$//'
