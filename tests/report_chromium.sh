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

# With Chart.js (Debian's libjs-chart.js) inlined: the overlay of every group's front must be
# drawn (the initialiser marks the canvas with its series and point counts once Chart.js built
# the chart), one series per group, the legend and axes labelled by the objectives, no console
# errors, and still no script element beyond the library, the data block and the initialiser.
cjs=${DS_CHARTJS:-/usr/share/javascript/chart.js/chart.min.js}
if [ ! -r "$cjs" ]; then
  echo "report_chromium: $cjs not installed (libjs-chart.js); overlay not checked"
  exit 0
fi
"$demo" "$work/cj.html" --evil --chartjs "$cjs" || fail "report_demo --chartjs failed"
timeout 90 "$chrome" "${flags[@]}" --window-size=1200,2600 --screenshot="${DS_REPORT_SHOT_CJ:-$work/cj.png}" \
  "file://$work/cj.html" >"$work/cj_shot.log" 2>&1 || fail "chromium --screenshot (Chart.js) failed"
timeout 90 "$chrome" "${flags[@]}" --virtual-time-budget=2000 --dump-dom "file://$work/cj.html" >"$work/cj_dom.html" 2>"$work/cj_dom.log" \
  || fail "chromium --dump-dom (Chart.js) failed"
if grep -E "Uncaught|:CONSOLE\(|ERROR:CONSOLE" "$work/cj_shot.log" "$work/cj_dom.log"; then
  fail "console errors while loading the Chart.js report"
fi
groups=$(grep -o '"name":' "$work/cj.html" | wc -l)
series=$(grep -o 'id="ds-overlay"[^>]*' "$work/cj_dom.html" | grep -o 'data-series="[0-9]*"' | grep -o '[0-9]*')
points=$(grep -o 'id="ds-overlay"[^>]*' "$work/cj_dom.html" | grep -o 'data-points="[0-9]*"' | grep -o '[0-9]*')
[ -n "$series" ] || fail "the overlay chart was not built (no data-series on the canvas)"
[ "$series" = "$groups" ] || fail "overlay: $series series for $groups groups"
[ "${points:-0}" -gt 0 ] || fail "overlay: no front points"
scripts=$(grep -o "<script" "$work/cj_dom.html" | wc -l)
[ "$scripts" -eq 3 ] || fail "expected 3 script elements (library, data, initialiser), found $scripts"
grep -q '"x":"pass_at_1","y":"pass_at_64",' "$work/cj.html" || fail "overlay axes are not labelled by the objectives"
echo "report_chromium: Chart.js overlay ok ($series series, $points front points)"
exit 0
