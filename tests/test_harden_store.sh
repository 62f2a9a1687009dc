#!/usr/bin/env bash
# Issue 12 items 7 and 12 (store side), with real campaign databases: a zeroed page of campaigns,
# runs, params or metrics (found through sqlite_master's rootpage and PRAGMA page_size, as dd
# would hit it) makes `status` and `query` fail with the damaged-database line and exit 2 instead
# of "no campaigns"/exit 0, and makes `run` refuse before it writes anything; and a store on a
# read-only file system without its -shm file is read (immutable=1, said in a note) or, when its
# -wal holds commits, refused with how to read it.
source "$(dirname "$0")/lib.sh"
cd "$TMP"

printf '%s\n' '{"name": "cc", "task": "noop", "sweep": {"x": {"linear": [0, 1], "points": 3000}}, "seeds": 2}' >cc.json
"$DS_BIN" run cc.json --db good.db --quiet 2>/dev/null
check "set-up: 6000 trials done" "$(q good.db "SELECT count(*) FROM trials WHERE status = 'done'")" 6000

# zero_root TABLE OUT: a copy of good.db with TABLE's root page zeroed.
zero_root() {
  local page size
  page=$(sqlite3 good.db "SELECT rootpage FROM sqlite_master WHERE name = '$1'")
  size=$(sqlite3 good.db "PRAGMA page_size")
  cp good.db "$2"
  dd if=/dev/zero of="$2" bs="$size" seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
}

hint="this database is damaged; run \`divsweep repair --db"
for t in campaigns runs params metrics; do
  zero_root "$t" "z_$t.db"
  before=$(md5sum <"z_$t.db")
  rc=0; "$DS_BIN" run cc.json --db "z_$t.db" --quiet >out.txt 2>err.txt || rc=$?
  check "zeroed $t: run exits 2" "$rc" 2
  check_true "zeroed $t: run says the database is damaged" grep -q "$hint z_$t.db\` or restore from a backup" err.txt
  check "zeroed $t: run wrote nothing" "$(md5sum <"z_$t.db")" "$before"
  check "zeroed $t: no WAL left with writes" "$(if [ -s "z_$t.db-wal" ]; then echo wal; else echo none; fi)" none
  rc=0; "$DS_BIN" query --db "z_$t.db" "SELECT count(*) FROM $t WHERE 1" --format csv >out.txt 2>err.txt || rc=$?
  if [ "$t" = campaigns ]; then
    # count(*) of a one-page table reads its root page: SQLite may answer from the header; the
    # point is only that every error is one.
    check_true "zeroed $t: query fails or answers" test "$rc" -eq 0 -o "$rc" -eq 2
  else
    check "zeroed $t: query exits 2" "$rc" 2
    check_true "zeroed $t: query says the database is damaged" grep -q "$hint" err.txt
  fi
done
# An older schema is not migrated before the check: a damaged file is left as it was found.
zero_root metrics old.db
sqlite3 old.db "PRAGMA user_version = 3"
before=$(md5sum <old.db)
rc=0; "$DS_BIN" run cc.json --db old.db --quiet >out.txt 2>err.txt || rc=$?
check "zeroed metrics, schema 3: run exits 2" "$rc" 2
check_true "zeroed metrics, schema 3: says damaged (not a migration error)" grep -q "old.db: PRAGMA quick_check: .*$hint old.db" err.txt
check "zeroed metrics, schema 3: not migrated, nothing written" "$(md5sum <old.db) $(sqlite3 old.db 'PRAGMA user_version')" "$before 3"

for t in campaigns runs; do
  rc=0; "$DS_BIN" status --db "z_$t.db" >out.txt 2>err.txt || rc=$?
  check "zeroed $t: status exits 2 (was 'no campaigns', exit 0)" "$rc" 2
  check_true "zeroed $t: status says the database is damaged" grep -q "$hint z_$t.db\`" err.txt
  check "zeroed $t: status prints no campaign lines" "$(grep -c 'no campaigns' out.txt || true)" 0
  rc=0; "$DS_BIN" status --db "z_$t.db" --json >out.txt 2>err.txt || rc=$?
  check "zeroed $t: status --json exits 2" "$rc" 2
done

# pareto and report read the fronts: a zeroed page of table pareto is an error there too (they
# read failing steps as "no rows" and printed an empty front / wrote a report, exit 0).
printf '%s\n' '{"name": "pp", "task": "noop", "sweep": {"x": {"linear": [0, 1], "points": 3000}}, "objectives": {"value": "min"}}' >pp.json
"$DS_BIN" run pp.json --db pgood.db --quiet 2>/dev/null
page=$(sqlite3 pgood.db "SELECT rootpage FROM sqlite_master WHERE name = 'pareto'")
cp pgood.db zp_pareto.db
dd if=/dev/zero of=zp_pareto.db bs="$(sqlite3 pgood.db 'PRAGMA page_size')" seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
rc=0; "$DS_BIN" pareto --db zp_pareto.db >out.txt 2>err.txt || rc=$?
check "zeroed pareto: pareto exits 2" "$rc" 2
check_true "zeroed pareto: pareto says the database is damaged" grep -q "$hint [^ ]*zp_pareto.db" err.txt
rc=0; "$DS_BIN" report --db zp_pareto.db --out zp.html >out.txt 2>err.txt || rc=$?
check "zeroed pareto: report exits 2 and writes no file" "$rc,$(test -e zp.html && echo written || echo none)" "2,none"
check_true "zeroed pareto: report says the database is damaged" grep -q "$hint [^ ]*zp_pareto.db" err.txt

# A store over 64 MiB gets the cheap check (small tables' quick_check, first and last rows of the
# large ones) instead of a full quick_check: a zeroed params root page is still caught there.
cp good.db pad.db
sqlite3 pad.db "CREATE TABLE pad(x); INSERT INTO pad VALUES(zeroblob(70000000));"
page=$(sqlite3 pad.db "SELECT rootpage FROM sqlite_master WHERE name = 'params'")
cp pad.db zp.db
dd if=/dev/zero of=zp.db bs="$(sqlite3 pad.db 'PRAGMA page_size')" seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
rc=0; "$DS_BIN" run cc.json --db zp.db --quiet >out.txt 2>err.txt || rc=$?
check "large store, zeroed params: run exits 2" "$rc" 2
check_true "large store, zeroed params: names table params" grep -q "zp.db: table params: database disk image is malformed; $hint" err.txt
rc=0; "$DS_BIN" run cc.json --db pad.db --quiet >out.txt 2>err.txt || rc=$?
check "large healthy store: run resumes (exit 0)" "$rc" 0

# -- item 12: a read-only file system without -shm.
if [ "$(id -u)" -ne 0 ] || ! mkdir -p ro || ! mount -t tmpfs -o size=16m tmpfs ro 2>/dev/null; then
  echo "skip read-only file system checks: needs root and tmpfs mounts"
else
  trap 'umount "$TMP/ro" 2>/dev/null || true; rm -rf "$TMP"' EXIT
  cp good.db ro/c.db
  cp good.db ro/w.db
  # A -wal that holds commits: write one through sqlite3 with checkpoints off, keep its WAL.
  sqlite3 ro/w.db "PRAGMA wal_autocheckpoint = 0; UPDATE campaigns SET updated_at = updated_at + 1;" >/dev/null
  python3 - "$TMP/ro/w.db" <<'PY'
import sqlite3, sys, shutil
# Hold a second connection so that closing the writer cannot checkpoint and delete the WAL.
a = sqlite3.connect(sys.argv[1]); a.execute("PRAGMA wal_autocheckpoint = 0")
b = sqlite3.connect(sys.argv[1]); b.execute("SELECT 1 FROM campaigns").fetchall()
a.execute("UPDATE campaigns SET updated_at = updated_at + 1"); a.commit()
shutil.copy(sys.argv[1] + "-wal", sys.argv[1] + "-wal.keep")
PY
  mv ro/w.db-wal.keep ro/w.db-wal; rm -f ro/w.db-shm
  mount -o remount,ro ro
  rc=0; "$DS_BIN" status --db ro/c.db >out.txt 2>err.txt || rc=$?
  check "read-only fs, no -shm: status exits 0" "$rc" 0
  check_true "read-only fs, no -shm: status reads the campaign" grep -q 'done 6000' out.txt
  check_true "read-only fs, no -shm: a note says immutable=1" grep -q "note: ro/c.db: read-only file system and no ro/c.db-shm, which SQLite's WAL mode needs to read; opened as file:...?immutable=1" err.txt
  check "read-only fs, no -shm: query" "$("$DS_BIN" query --db ro/c.db "SELECT count(*) FROM trials" --format csv 2>/dev/null | tail -1)" 6000
  rc=0; "$DS_BIN" status --db ro/w.db >out.txt 2>err.txt || rc=$?
  check "read-only fs, -wal with commits: status exits 2" "$rc" 2
  check_true "read-only fs, -wal with commits: says how to read it" grep -q 'ro/w.db-wal holds commits not yet copied into the file; copy ro/w.db and ro/w.db-wal to a writable directory' err.txt
  umount ro
fi

finish
