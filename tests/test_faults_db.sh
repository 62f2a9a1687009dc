#!/usr/bin/env bash
# Database faults, each under mpiexec -np 3 on a real file: a read-only file, a missing directory,
# a file that is not SQLite, a SQLite file that is not ours, a database from a newer schema,
# another process holding SQLite's write lock, another divsweep run on the same file.  Each must
# give exit 2 with one clear `divsweep:` line naming the file, and leave every file as it was
# (same bytes, no -wal/-shm/-journal created).
. "$(dirname "$0")/lib.sh"
cat > "$TMP/s.json" <<'J'
{"name": "dbf", "task": "noop", "sweep": {"x": [1, 2, 3]}, "seeds": 1}
J

snapshot() { (cd "$1" && ls -la --time-style=+%s.%N . | awk '{print $1, $5, $6, $7}' | sort; md5sum ./* 2>/dev/null || true) | md5sum; }

refuse() { # refuse NAME DIR DB EXPECTED_MESSAGE [runner...]
  local name=$1 dir=$2 db=$3 msg=$4; shift 4
  local before after out rc
  before=$(snapshot "$dir")
  set +e; out=$("$@" "${RUN_BIN:-$DS_BIN}" run "$TMP/s.json" --db "$db" --quiet 2>&1); rc=$?; set -e
  after=$(snapshot "$dir")
  check "$name: exit 2" "$rc" 2
  check "$name: one divsweep line" "$(grep -c '^divsweep:' <<<"$out")" 1
  check_true "$name: says '$msg'" grep -q "^divsweep: .*$msg" <<<"$out"
  check_true "$name: names the file" grep -q "^divsweep: .*$(basename "$db")" <<<"$out"
  check "$name: nothing touched" "$after" "$before"
}
MPI3=(mpi 3)

# missing directory
mkdir -p "$TMP/m"
refuse "missing directory" "$TMP/m" "$TMP/m/nope/x.db" "does not exist" "${MPI3[@]}"
check "missing directory: not created" "$(test -e "$TMP/m/nope" && echo yes || echo no)" no

# not SQLite
mkdir -p "$TMP/n"; printf 'this is a text file, not a database at all; %.0s' {1..20} > "$TMP/n/x.db"
refuse "not SQLite" "$TMP/n" "$TMP/n/x.db" "not a SQLite database" "${MPI3[@]}"

# someone else's SQLite database
mkdir -p "$TMP/o"; sqlite3 "$TMP/o/x.db" "CREATE TABLE stuff(a); INSERT INTO stuff VALUES (1)"
refuse "another program's SQLite file" "$TMP/o" "$TMP/o/x.db" "not a divsweep store" "${MPI3[@]}"

# a newer schema
mkdir -p "$TMP/v"; sqlite3 "$TMP/v/x.db" "CREATE TABLE campaigns(x); PRAGMA user_version = 99"
refuse "newer schema" "$TMP/v" "$TMP/v/x.db" "schema version 99 is newer than this divsweep" "${MPI3[@]}"

# a real store for the lock cases (and its view of itself afterwards)
mkdir -p "$TMP/l"; mpi 3 "$DS_BIN" run "$TMP/s.json" --db "$TMP/l/x.db" --quiet
# another process holding SQLite's write lock (a plain sqlite3 client in a write transaction)
python3 - "$TMP/l/x.db" "$TMP/l.ready" <<'P' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(8)
c.execute("ROLLBACK")
P
holder=$!
for _ in $(seq 100); do [ -e "$TMP/l.ready" ] && break; sleep 0.05; done
refuse "write lock held by another process" "$TMP/l" "$TMP/l/x.db" "locked by another process" "${MPI3[@]}"
kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true

# another divsweep run on the same database
cat > "$TMP/slow.json" <<'J'
{"name": "dbf2", "task": "noop", "fixed": {"sleep_ms": 50}, "sweep": {"x": {"linear": [0, 1], "points": 200}}}
J
"$DS_MPIEXEC" --oversubscribe -np 3 "$DS_BIN" run "$TMP/slow.json" --db "$TMP/l/x.db" --quiet >/dev/null 2>&1 &
first=$!
for _ in $(seq 100); do
  [ "$(q "$TMP/l/x.db" "SELECT count(*) FROM campaigns WHERE name = 'dbf2'" 2>/dev/null || echo 0)" -gt 0 ] && break
  sleep 0.1
done
set +e; out=$(mpi 3 "$DS_BIN" run "$TMP/s.json" --db "$TMP/l/x.db" --quiet 2>&1); rc=$?; set -e
check "second writer: exit 2" "$rc" 2
check_true "second writer: says another run is using the database" grep -q "^divsweep: .*another divsweep run is using this database" <<<"$out"
kids=$(pgrep -P "$first" || true); kill -TERM $kids 2>/dev/null || true; wait "$first" 2>/dev/null || true
check "second writer: the first run's campaign is intact" "$(q "$TMP/l/x.db" "SELECT count(*) FROM trials t JOIN campaigns c USING(campaign_id) WHERE c.name = 'dbf' AND t.status = 'done'")" 3

# a read-only file: root may write anything, so this case runs as nobody when we are root
mkdir -p "$TMP/r"; cp "$TMP/l/x.db" "$TMP/r/x.db"; rm -f "$TMP/r/x.db-wal" "$TMP/r/x.db-shm"
chmod 0444 "$TMP/r/x.db"
if [ "$(id -u)" -eq 0 ]; then
  if command -v setpriv >/dev/null; then
    chmod 0755 "$TMP" "$TMP/r"; cp "$TMP/s.json" "$TMP/r/s.json"; chmod 0644 "$TMP/r/s.json"
    asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp "$@"; }
    # nobody may not be able to reach the build tree (a clone in /root or in a 0700 mktemp -d):
    # run a copy of the binary from $TMP, which nobody can enter.
    mkdir -p "$TMP/bin"; cp "$DS_BIN" "$TMP/bin/divsweep"; chmod 0755 "$TMP/bin" "$TMP/bin/divsweep"
    if asnobody "$TMP/bin/divsweep" --version >/dev/null 2>&1; then
      RUN_BIN=$TMP/bin/divsweep
      refuse "read-only file" "$TMP/r" "$TMP/r/x.db" "read-only" asnobody
      chown 65534 "$TMP/r/x.db"; chmod 0644 "$TMP/r/x.db"; chmod 0555 "$TMP/r" # file writable, directory not
      refuse "read-only directory" "$TMP/r" "$TMP/r/x.db" "not writable" asnobody
      chmod 0755 "$TMP/r"
      unset RUN_BIN
    else
      echo "skip read-only cases: nobody cannot run a copy of divsweep in $TMP ($(asnobody "$TMP/bin/divsweep" --version 2>&1 | head -1))"
    fi
  else
    echo "skip read-only cases: running as root without setpriv"
  fi
else
  refuse "read-only file" "$TMP/r" "$TMP/r/x.db" "read-only" "${MPI3[@]}"
fi
finish
