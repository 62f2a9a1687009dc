#!/usr/bin/env bash
# Bounded fuzzing in CI: builds the libFuzzer targets (spec parser, .npy reader, wire decoder)
# with clang -fsanitize=fuzzer,address,undefined straight from the sources and runs each for
# DS_FUZZ_SECONDS (default 15) from the seed corpus in tests/fuzz/corpus/<target>.  Skips (77)
# without a clang that can link libFuzzer.  A crash fails the test and names the input: copy it
# into tests/fuzz/corpus/<target>/ — test_fuzz_replay then replays it on every build.
set -euo pipefail
SRC=${DS_SRC:?DS_SRC must point at the source tree}
SECS=${DS_FUZZ_SECONDS:-15}
CLANG=${CLANG:-$(command -v clang || true)}
[ -n "$CLANG" ] || { echo "skip: no clang"; exit 77; }
TMP=$(mktemp -d /tmp/ds_fuzz.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' > "$TMP/probe.c"
"$CLANG" -fsanitize=fuzzer "$TMP/probe.c" -o "$TMP/probe" 2>/dev/null || { echo "skip: clang cannot link libFuzzer"; exit 77; }
CJSON_FLAGS="$(pkg-config --cflags --libs libcjson 2>/dev/null || echo -lcjson) $(pkg-config --cflags --libs libxxhash 2>/dev/null || echo -lxxhash)"
FLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_DEFAULT_SOURCE
       -I"$SRC/schema" -I"$SRC/worker")
declare -A SOURCES=(
  [spec]="$SRC/schema/spec.c $SRC/schema/expand.c $SRC/schema/canon.c $SRC/schema/rand.c $SRC/schema/error.c"
  [npy]="$SRC/worker/npy.c $SRC/schema/error.c"
  [wire]="$SRC/schema/wire.c $SRC/schema/error.c"
)
fail=0
for t in spec npy wire; do
  # shellcheck disable=SC2086
  "$CLANG" "${FLAGS[@]}" "$SRC/tests/fuzz/fuzz_$t.c" ${SOURCES[$t]} $CJSON_FLAGS -lm -o "$TMP/fuzz_$t"
  mkdir -p "$TMP/corpus_$t" "$TMP/crash_$t"
  cp "$SRC/tests/fuzz/corpus/$t/"* "$TMP/corpus_$t/"
  set +e
  (cd "$TMP/crash_$t" && "$TMP/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
     -print_final_stats=1 "$TMP/corpus_$t" > "$TMP/log_$t" 2>&1)
  rc=$?
  set -e
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$TMP/log_$t" | tr '\n' ' ' | sed "s/^/fuzz_$t: /"; echo
  if [ $rc -ne 0 ]; then
    fail=1
    echo "FAIL fuzz_$t found a crash:"; grep -E "ERROR|SUMMARY|Test unit written" "$TMP/log_$t" | head -5
    mkdir -p "$SRC/tests/fuzz/found"
    cp "$TMP/crash_$t"/* "$SRC/tests/fuzz/found/" 2>/dev/null || true
    echo "  inputs copied to tests/fuzz/found/; move them to tests/fuzz/corpus/$t/ once fixed"
  fi
done
exit $fail
