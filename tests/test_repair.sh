#!/usr/bin/env bash
# `divsweep repair` on real database files damaged by SQL from a real completed campaign (and, when
# tests/data has it, by the real resume bug of divsweep 0.1): duplicate keys with the unique index
# dropped, an older divsweep's trial order, rows left running, a lost trial, a wrong campaign
# status, a zeroed page, a live run holding the lock.  Asserts on database contents and exit codes:
# a dry run changes no byte and exits 5; --apply fixes everything in one go, after which resume
# finishes the campaign with every key once, and every result equals the undamaged run's.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/n_ba.json" <<'J'
{"name":"n_ba","task":"noop","fixed":{"sleep_ms":0},"sweep":{"b":[10,20,30,40,50],"a":[1,2,3,4,5]},"seeds":2}
J
ORIG=$TMP/orig.db
"$DS_BIN" run "$TMP/n_ba.json" --db "$ORIG" --quiet --threads 2
check "reference campaign complete" "$(q "$ORIG" "SELECT count(*), count(DISTINCT trial_key), sum(status='done') FROM trials")" "50,50,50"

# Every key's parameters and metrics, bit for bit (%!.17g round-trips a double).
dump() { sqlite3 "file:$1?mode=ro" "SELECT CASE WHEN typeof(t.trial_key)='blob' THEN lower(hex(t.trial_key)) ELSE t.trial_key END, t.params_json, m.name, printf('%!.17g', m.value) FROM trials t JOIN metrics m USING (trial_id) ORDER BY 1, 3"; }
# Rows of trials the damage does not touch (ids 9..39): the repair must leave them as they were.
untouched() { sqlite3 "file:$1?mode=ro" "SELECT t.trial_id, hex(t.trial_key), t.status, t.finished_at, t.params_json, m.name, printf('%!.17g', m.value), (SELECT group_concat(name || '=' || coalesce(text, printf('%!.17g', value)), ';') FROM params p WHERE p.trial_id = t.trial_id) FROM trials t JOIN metrics m USING (trial_id) WHERE t.trial_id BETWEEN 9 AND 39 ORDER BY 1, 6"; }
# idx of each key; after repair it must be the canonical order's (the reference run's).
order() { sqlite3 "file:$1?mode=ro" "SELECT hex(trial_key), idx FROM trials ORDER BY 1"; }

cat > "$TMP/damage.sql" <<'SQL'
DROP INDEX trials_key;
-- later `done` copies without metrics of trials 1..3: the rows with metrics must be kept
INSERT INTO trials(campaign_id,trial_key,idx,seed,params_json,status,attempts,rank,host,started_at,finished_at,wall_s,error)
  SELECT campaign_id,trial_key,idx,seed,params_json,'done',1,rank,host,started_at+10,finished_at+10,wall_s,NULL FROM trials WHERE trial_id BETWEEN 1 AND 3;
-- later `failed` copies of 4..5 (at another idx), later `running` copies of 6..7
INSERT INTO trials(campaign_id,trial_key,idx,seed,params_json,status,attempts,rank,host,started_at,finished_at,wall_s,error)
  SELECT campaign_id,trial_key,idx+1,seed,params_json,'failed',2,rank,host,started_at+20,finished_at+20,wall_s,'boom' FROM trials WHERE trial_id BETWEEN 4 AND 5;
INSERT INTO trials(campaign_id,trial_key,idx,seed,params_json,status,attempts,rank,host,started_at)
  SELECT campaign_id,trial_key,idx,seed,params_json,'running',1,rank,host,started_at+30 FROM trials WHERE trial_id BETWEEN 6 AND 7;
-- the finished copies have params rows, and one a curve, as a real second write would
INSERT INTO params SELECT c.trial_id, p.name, p.value, p.text FROM trials c JOIN trials o ON o.trial_key = c.trial_key
  AND o.trial_id < c.trial_id JOIN params p ON p.trial_id = o.trial_id WHERE c.trial_id > 50 AND c.status <> 'running';
INSERT INTO curves VALUES (51, 1, 'loss', 0.5);
-- trial 8: only a failed row and a later running row (the finished one must be kept)
UPDATE trials SET status = 'failed', error = 'old failure' WHERE trial_id = 8;
DELETE FROM metrics WHERE trial_id = 8;
INSERT INTO trials(campaign_id,trial_key,idx,seed,params_json,status,attempts,started_at)
  SELECT campaign_id,trial_key,idx,seed,params_json,'running',1,started_at+40 FROM trials WHERE trial_id = 8;
-- an older divsweep's trial order
UPDATE trials SET idx = 49 - idx;
-- a trial that never ran (its index counted as done by the old resume), one left running
DELETE FROM params WHERE trial_id IN (40, 41); DELETE FROM metrics WHERE trial_id IN (40, 41); DELETE FROM trials WHERE trial_id = 40;
UPDATE trials SET status = 'running', finished_at = NULL WHERE trial_id = 41;
UPDATE campaigns SET trial_order = 1, status = 'done';
INSERT INTO runs(campaign_id, started_at, ranks, hosts, mode, version, pid, how_ended) VALUES (1, 1796219100, 3, 'vm', 'mpi', '0.1.0', 4242, 'running');
SQL

# ---- duplicates, old order, running rows, lost trial, wrong status ---------------------------
D=$TMP/d.db
cp "$ORIG" "$D"
sqlite3 "$D" < "$TMP/damage.sql"
check "damaged: keys held twice" "$(q "$D" "SELECT count(*) - count(DISTINCT trial_key) FROM trials")" 8
set +e; out=$("$DS_BIN" run "$TMP/n_ba.json" --db "$D" --quiet 2>&1); rc=$?; set -e
check "damaged: run refuses it (exit 2)" "$rc" 2
check_true "damaged: the refusal points at divsweep repair" grep -q "divsweep repair --db" <<<"$out"

sum0=$(sha256sum < "$D")
set +e; out=$("$DS_BIN" repair --db "$D" 2>&1); rc=$?; set -e
check "dry run: exit 5 (changes to make)" "$rc" 5
check "dry run: the file's bytes are unchanged" "$(sha256sum < "$D")" "$sum0"
check "dry run: no -wal or -shm left behind" "$(ls "$D"-* 2>/dev/null | wc -l)" 0
check "dry run: lists each row it would delete" "$(grep -c 'delete trial_id' <<<"$out")" 8
for id in 51 52 53 54 55 56 57 58; do
  check_true "dry run: names duplicate row $id" grep -q "delete trial_id $id " <<<"$out"
done
check_true "dry run: keeps the row with metrics over a later one without" grep -q "delete trial_id 51 .*keep trial_id 1 " <<<"$out"
check_true "dry run: keeps the finished row over a later running one" grep -q "delete trial_id 58 .*keep trial_id 8 " <<<"$out"
check_true "dry run: the running trial" grep -q "trial_id 41 .*running -> pending" <<<"$out"
check_true "dry run: the killed run" grep -q "run 2 .*running -> killed" <<<"$out"
check_true "dry run: the status" grep -q "status done -> incomplete" <<<"$out"
check_true "dry run: the index" grep -q "index trials_key: built" <<<"$out"
check_true "dry run: the trial order" grep -q "trial_order 1 -> 2" <<<"$out"
check_true "dry run: says how to apply" grep -q "repair --db .* --apply" <<<"$out"

set +e; out=$("$DS_BIN" repair --db "$D" --apply 2>&1); rc=$?; set -e
check "apply: exit 0" "$rc" 0
check "apply: each key once" "$(q "$D" "SELECT count(*), count(DISTINCT trial_key) FROM trials")" "49,49"
check "apply: the duplicates went, the originals stayed" "$(q "$D" "SELECT group_concat(trial_id, ' ') FROM (SELECT trial_id FROM trials WHERE trial_id BETWEEN 1 AND 8 OR trial_id > 50 ORDER BY 1)")" "1 2 3 4 5 6 7 8"
check "apply: no orphan params, metrics, curves" "$(q "$D" "SELECT (SELECT count(*) FROM params WHERE trial_id NOT IN (SELECT trial_id FROM trials)) + (SELECT count(*) FROM metrics WHERE trial_id NOT IN (SELECT trial_id FROM trials)) + (SELECT count(*) FROM curves WHERE trial_id NOT IN (SELECT trial_id FROM trials))")" 0
check "apply: unique index back" "$(q "$D" "SELECT count(*) FROM sqlite_master WHERE name = 'trials_key'")" 1
check "apply: nothing left running" "$(q "$D" "SELECT (SELECT count(*) FROM trials WHERE status = 'running') + (SELECT count(*) FROM runs WHERE how_ended = 'running')")" 0
check "apply: the killed run" "$(q "$D" "SELECT how_ended FROM runs WHERE run_id = 2")" killed
check "apply: campaign status and order" "$(q "$D" "SELECT status, trial_order FROM campaigns")" "incomplete,2"
check "apply: idx is the canonical order" "$(order "$D" | md5sum)" "$(sqlite3 "$ORIG" "SELECT hex(trial_key), idx FROM trials WHERE trial_id <> 40 ORDER BY 1" | md5sum)"
check "apply: untouched trials bit-identical" "$(untouched "$D" | md5sum)" "$(untouched "$ORIG" | md5sum)"
check "apply: the view counts each key once" "$(q "$D" "SELECT count(*), count(DISTINCT trial_key) FROM v_n_ba")" "49,49"
set +e; out=$("$DS_BIN" repair --db "$D" 2>&1); rc=$?; set -e
check "repaired file: a second dry run finds nothing (exit 0)" "$rc" 0
check_true "repaired file: says so" grep -q "nothing to repair" <<<"$out"

set +e; "$DS_BIN" resume --db "$D" --quiet; rc=$?; set -e
check "resume after repair: exit 4 (the kept failed row stays failed)" "$rc" 4
check "resume after repair: every key once, all 50 there" "$(q "$D" "SELECT count(*), count(DISTINCT trial_key) FROM trials")" "50,50"
set +e; "$DS_BIN" resume --db "$D" --quiet --retry-failed; rc=$?; set -e
check "resume --retry-failed: exit 0" "$rc" 0
check "resume --retry-failed: every trial done, each key once" "$(q "$D" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "50,50,50"
check "resume --retry-failed: campaign done" "$(q "$D" "SELECT status FROM campaigns")" done
check "every result equals the undamaged run's, bit for bit" "$(dump "$D" | md5sum)" "$(dump "$ORIG" | md5sum)"

# ---- the real thing: a schema-2 database that divsweep 0.1's resume bug left -----------------
# tests/data/legacy_v2_n_ba.sql: issue 11's reproduction run by divsweep 0.1 (FNV hex keys, trial
# indices in the spec file's axis order, 50 rows for 44 keys, no key index); .ref: the metrics of
# an uninterrupted divsweep 0.1 run of the same spec.
G=$TMP/legacy.db
sqlite3 "$G" < "$DS_SRC/tests/data/legacy_v2_n_ba.sql"
sqlite3 "$G" "PRAGMA journal_mode = WAL" > /dev/null
check "legacy: as the bug left it" "$(sqlite3 "$G" "PRAGMA user_version; SELECT count(*), count(DISTINCT trial_key) FROM trials" | tr '\n' ' ')" "2 50|44 "
sum0=$(sha256sum < "$G")
set +e; out=$("$DS_BIN" repair --db "$G" 2>&1); rc=$?; set -e
check "legacy dry run: exit 5" "$rc" 5
check "legacy dry run: the file's bytes are unchanged" "$(sha256sum < "$G")" "$sum0"
check "legacy dry run: still schema 2" "$(sqlite3 "$G" "PRAGMA user_version")" 2
check_true "legacy dry run: would migrate" grep -q "migrate from version 2 to 4" <<<"$out"
check "legacy dry run: six duplicate rows to delete" "$(grep -c 'delete trial_id' <<<"$out")" 6
"$DS_BIN" repair --db "$G" --apply > /dev/null
check "legacy apply: current schema, old key scheme kept, canonical order" "$(q "$G" "SELECT key_scheme, trial_order FROM campaigns"),$(sqlite3 "$G" "PRAGMA user_version")" "1,2,4"
check "legacy apply: 44 keys once each, all trials of the stored spec" "$(q "$G" "SELECT count(*), count(DISTINCT trial_key), sum(idx BETWEEN 0 AND 49) FROM trials")" "44,44,44"
set +e; "$DS_BIN" resume --db "$G" --quiet; rc=$?; set -e
check "legacy resume: exit 0" "$rc" 0
check "legacy resume: every trial done, each key once" "$(q "$G" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "50,50,50"
check "legacy resume: results equal an uninterrupted divsweep 0.1 run's, bit for bit" "$(dump "$G" | md5sum)" "$(md5sum < "$DS_SRC/tests/data/legacy_v2_n_ba.ref")"

# ---- an idle database with only a run row left running: one change ----------------------------
R=$TMP/r.db
cp "$ORIG" "$R"
sqlite3 "$R" "INSERT INTO runs(campaign_id, started_at, ranks, mode, version, pid, how_ended) VALUES (1, 1796219100, 1, 'local', '0.1.0', 7, 'running')"
set +e; out=$("$DS_BIN" repair --db "$R" 2>&1); rc=$?; set -e
check "only a stale runs row: dry run exit 5, one change" "$rc,$(grep -c '^  ' <<<"$out")" "5,1"
"$DS_BIN" repair --db "$R" --apply > /dev/null
check "only a stale runs row: applied" "$(q "$R" "SELECT how_ended FROM runs ORDER BY run_id DESC LIMIT 1")" killed
check "only a stale runs row: results untouched" "$(dump "$R" | md5sum)" "$(dump "$ORIG" | md5sum)"

# ---- a row whose key is no trial of the stored spec: reported and kept, never deleted ---------
S=$TMP/s.db
cp "$ORIG" "$S"
sqlite3 "$S" "INSERT INTO trials(campaign_id,trial_key,idx,seed,params_json,status,attempts) VALUES (1, x'00112233445566778899aabbccddeeff', 7, 0, '{}', 'done', 1)"
set +e; out=$("$DS_BIN" repair --db "$S" --apply 2>&1); rc=$?; set -e
check "stray row: apply exit 0" "$rc" 0
check_true "stray row: reported as not a trial of the stored spec" grep -q "00112233445566778899aabbccddeeff.*idx 7 -> -1 (not a trial of the stored spec" <<<"$out"
check "stray row: kept, numbered -1" "$(q "$S" "SELECT count(*) FROM trials WHERE idx = -1"),$(q "$S" "SELECT count(*) FROM trials")" "1,51"
set +e; "$DS_BIN" resume --db "$S" --campaign n_ba --quiet; rc=$?; set -e
check "stray row: the campaign counts as complete without it" "$rc,$(q "$S" "SELECT status FROM campaigns")" "0,done"

# ---- --campaign: the index covers the whole file ----------------------------------------------
M=$TMP/m.db
cp "$ORIG" "$M"
sed 's/"n_ba"/"other"/' "$TMP/n_ba.json" > "$TMP/other.json"
"$DS_BIN" run "$TMP/other.json" --db "$M" --quiet --threads 2
sqlite3 "$M" "DROP INDEX trials_key; INSERT INTO trials(campaign_id,trial_key,idx,seed,params_json,status,attempts) SELECT campaign_id,trial_key,idx,seed,params_json,'failed',1 FROM trials WHERE trial_id IN (1, 60)"
set +e; out=$("$DS_BIN" repair --db "$M" --campaign nosuch 2>&1); rc=$?; set -e
check "--campaign of an unknown name: exit 1" "$rc" 1
sum0=$(sha256sum < "$M")
set +e; out=$("$DS_BIN" repair --db "$M" --campaign n_ba --apply 2>&1); rc=$?; set -e
check "--campaign while another campaign holds duplicates: refused (exit 2)" "$rc" 2
check_true "--campaign refusal names the other campaign" grep -q "campaign other still holds" <<<"$out"
check "--campaign refusal: the file's bytes are unchanged" "$(sha256sum < "$M")" "$sum0"
"$DS_BIN" repair --db "$M" --apply > /dev/null
check "whole-file repair: each key once in both campaigns" "$(q "$M" "SELECT count(*), count(DISTINCT campaign_id || hex(trial_key)) FROM trials")" "100,100"

# ---- a run holds the database: refused, nothing changed ---------------------------------------
L=$TMP/live.db
cat > "$TMP/slow.json" <<'J'
{"name":"slow","task":"noop","fixed":{"sleep_ms":300},"sweep":{"x":{"linear":[0,1],"points":40}},"seeds":1}
J
"$DS_BIN" run "$TMP/slow.json" --db "$L" --quiet --threads 1 & pid=$!
wait_done "$L" 1
for mode in "" --apply; do
  set +e; out=$("$DS_BIN" repair --db "$L" $mode 2>&1); rc=$?; set -e
  check "live run, repair $mode: exit 2" "$rc" 2
  check_true "live run, repair $mode: says a run is using it" grep -q "another divsweep run is using this database" <<<"$out"
done
kill -INT $pid; set +e; wait $pid; set -e
check "live run: its trials were not touched" "$(q "$L" "SELECT count(*) FROM trials WHERE status NOT IN ('done', 'running')")" 0

# ---- a zeroed page: reported, nothing changed -------------------------------------------------
for table in metrics trials; do
  C=$TMP/c_$table.db
  cp "$ORIG" "$C"
  page=$(sqlite3 "$C" "SELECT rootpage FROM sqlite_master WHERE name = '$table'")
  dd if=/dev/zero of="$C" bs=4096 seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
  sum0=$(sha256sum < "$C")
  for mode in "" --apply; do
    set +e; out=$("$DS_BIN" repair --db "$C" $mode 2>&1); rc=$?; set -e
    check "zeroed $table page, repair $mode: exit 2" "$rc" 2
    check_true "zeroed $table page, repair $mode: says the database is damaged, and where" grep -q "damaged.*table $table" <<<"$out"
    check_true "zeroed $table page, repair $mode: gives the remedy" grep -q "backup.*\.recover" <<<"$out"
    check "zeroed $table page, repair $mode: the file's bytes are unchanged" "$(sha256sum < "$C")" "$sum0"
  done
done

finish
