#!/usr/bin/env bash
# report_chromium.sh DEMO_BIN — render a synthetic report (tests/report_demo.c) in headless
# Chromium: the page must load without console errors, its DOM must hold the expected SVG plots,
# and a screenshot must be produced.  Exits 77 (skip) when Chromium is not installed.
# Set DS_REPORT_SHOT=path.png to keep the screenshot for a look.
set -u
demo=${1:?usage: report_chromium.sh REPORT_DEMO_BIN}
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
  echo "report_chromium: chromium not installed; skipping"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "report_chromium: $*" >&2; exit 1; }

"$demo" "$work/report.html" --evil || fail "report_demo failed"
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
       --disable-component-update --disable-sync --no-first-run --hide-scrollbars
       --user-data-dir="$work/profile" --enable-logging=stderr --v=0)
shot=${DS_REPORT_SHOT:-$work/shot.png}

timeout 90 "$chrome" "${flags[@]}" --window-size=1200,2600 --screenshot="$shot" \
  "file://$work/report.html" >"$work/shot.log" 2>&1 || fail "chromium --screenshot failed: $(tail -3 "$work/shot.log")"
[ -s "$shot" ] || fail "no screenshot written"
# PNG signature.
[ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "screenshot is not a PNG"

timeout 90 "$chrome" "${flags[@]}" --dump-dom "file://$work/report.html" >"$work/dom.html" 2>"$work/dom.log" \
  || fail "chromium --dump-dom failed: $(tail -3 "$work/dom.log")"
if grep -E "Uncaught|:CONSOLE\(|ERROR:CONSOLE" "$work/shot.log" "$work/dom.log"; then
  fail "console errors while loading the report"
fi
# The DOM as the browser parsed it: plots present, hostile names stayed text (no injected nodes).
svgs=$(grep -o "<svg " "$work/dom.html" | wc -l)
[ "$svgs" -ge 8 ] || fail "expected at least 8 SVG plots in the DOM, found $svgs"
circles=$(grep -o "<circle " "$work/dom.html" | wc -l)
[ "$circles" -ge 100 ] || fail "expected circles in the DOM, found $circles"
grep -q "<script" "$work/dom.html" && fail "a <script> element made it into the DOM"
grep -q "&lt;script&gt;alert" "$work/dom.html" || fail "escaped group name not found in the DOM"
echo "report_chromium: ok ($svgs svg, $circles circles)"
exit 0
