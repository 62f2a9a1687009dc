#!/usr/bin/env bash
# Small things a user noticed, asserted on what the commands print: pareto and report pick the
# only campaign of a file and list the campaigns for an unknown one; status --json reports the
# campaign's trials_per_s after a rerun that had nothing to do; tables show times as ISO 8601
# (csv keeps the number); validate says "1 seed", not "1 seeds".
. "$(dirname "$0")/lib.sh"
cat > "$TMP/s.json" <<'J'
{"name": "small", "task": "noop", "sweep": {"x": [0, 0.5, 1]}, "fixed": {"objectives_demo": true},
 "seeds": 1, "objectives": {"a": "min", "b": "min"}}
J
DB=$TMP/x.db
"$DS_BIN" run "$TMP/s.json" --db "$DB" --quiet --threads 1 2>/dev/null
"$DS_BIN" run "$TMP/s.json" --db "$DB" --quiet --threads 1 2>/dev/null   # nothing left to do
set +e; out=$("$DS_BIN" pareto --db "$DB" --format csv 2>&1); rc=$?; set -e
check "pareto without --campaign on a one-campaign file: exit 0" "$rc" 0
check_true "pareto without --campaign prints the front" grep -q "trial_id" <<<"$out"
set +e; "$DS_BIN" report --db "$DB" --out "$TMP/r.html" >/dev/null 2>&1; rc=$?; set -e
check "report without --campaign: exit 0" "$rc" 0
set +e; out=$("$DS_BIN" pareto --db "$DB" --campaign nope 2>&1); rc=$?; set -e
check "unknown campaign: exit 1" "$rc" 1
check "unknown campaign: lists the campaigns" "$out" "divsweep: $DB: unknown campaign nope in table campaigns (it holds: small)"
# Age the trials past status's 10-second window of recent throughput, as a rerun long after the
# campaign finished would see them.
sqlite3 "$DB" "UPDATE trials SET started_at = started_at - 100, finished_at = finished_at - 100; UPDATE runs SET started_at = started_at - 100, ended_at = ended_at - 100 WHERE trials_done > 0"
rate=$("$DS_BIN" status --db "$DB" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["trials_per_s"] > 0)')
check "status --json after a no-op rerun: the campaign's trials_per_s" "$rate" True
t=$("$DS_BIN" query --db "$DB" "SELECT started_at FROM runs LIMIT 1")
check_true "table shows ISO 8601 times ($t)" grep -Eq '^ *[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z *$' <<<"$t"
t=$("$DS_BIN" query --db "$DB" "SELECT started_at FROM runs LIMIT 1" --format csv | tail -1)
check_true "csv keeps the number ($t)" grep -Eq '^[0-9]+\.[0-9]+$' <<<"$t"
out=$("$DS_BIN" validate "$TMP/s.json" --show 0)
check_true "validate: 1 seed ($out)" grep -q "x 1 seed," <<<"$out"
finish
