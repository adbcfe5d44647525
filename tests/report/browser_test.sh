#!/usr/bin/env bash
# Renders the report of the sample run (sample_store.h, model path full of HTML
# specials) in headless Chromium and checks what a reviewer would see: no
# console message or page error, every chart drawn (its canvas marked
# data-rendered="N points" by the page's script), no element injected from user
# data. Keeps the page, the dumped DOM and a screenshot per section in WORK_DIR.
# usage: browser_test.sh HYBRIDIZE MAKE_REPORT_FIXTURE WORK_DIR PYTHON
# Exits 77 (CTest: skipped) only when Chromium is missing.
set -u
exe=$1 fixture=$2 work=$3 python=$4

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (scripts/setup.sh installs Debian's chromium package)"
  exit 77
fi

rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$fixture" "$work/results.db" || fail "the fixture program could not fill the store"
out=$("$exe" report --db "$work/results.db" --out "$work/report.html" --title 'Sample <run> & "report"') \
  || fail "hybridize report failed"
[ "$out" = "$work/report.html" ] || fail "hybridize report printed '$out', not the output path"

chrome() {  # chrome LOG ARGS... : one headless run with its own profile, bounded in time
  local log=$1; shift
  timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
    --user-data-dir="$work/profile" --enable-logging=stderr --v=0 --hide-scrollbars "$@" 2>"$log"
}

chrome "$work/dom.log" --virtual-time-budget=10000 --dump-dom "file://$work/report.html" >"$work/dom.html" \
  || fail "chromium could not render the page (see $work/dom.log)"
# Chromium logs every console message of the page as INFO:CONSOLE; the page must log none.
if grep -a "CONSOLE" "$work/dom.log"; then fail "the page wrote to the console (above)"; fi

"$python" - "$work/report.html" "$work/dom.html" <<'PY' || exit 1
import sys
from html.parser import HTMLParser

page = open(sys.argv[1], encoding="utf-8").read()
dom = open(sys.argv[2], encoding="utf-8").read()

class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements = []
    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

def elements(text):
    parser = Elements()
    parser.feed(text)
    return parser.elements

problems = []
written, drawn = elements(page), elements(dom)
# The page holds exactly its own four scripts; user data never became markup.
scripts = [attrs for tag, attrs in written if tag == "script"]
if len(scripts) != 4:
    problems.append(f"the written page has {len(scripts)} <script> elements, not 4")
if "<script>alert(1)" in page or "<script>alert(1)" in dom:
    problems.append("the model path's <script> reached the page unescaped")
if "&lt;script&gt;alert(1)&lt;/script&gt;" not in dom:
    problems.append("the model path is not shown (escaped) in the rendered page")
html_attrs = next(attrs for tag, attrs in drawn if tag == "html")
if "data-errors" in html_attrs:
    problems.append("page errors: " + html_attrs["data-errors"].strip())
for section in ("provenance", "layers", "plans", "distillation", "throughput"):
    if not any(tag == "section" and attrs.get("id") == section for tag, attrs in drawn):
        problems.append(f"section {section} is missing")
canvases = [attrs for tag, attrs in drawn if tag == "canvas"]
if len(canvases) < 8:
    problems.append(f"only {len(canvases)} charts on the page")
for canvas in canvases:
    name = canvas.get("data-chart")
    if "data-chart-error" in canvas:
        problems.append(f"chart {name}: {canvas['data-chart-error']}")
    rendered = canvas.get("data-rendered", "")
    if not rendered.endswith(" points") or int(rendered.split()[0]) == 0:
        problems.append(f"chart {name} did not draw (data-rendered={rendered!r})")
    if not canvas.get("aria-label"):
        problems.append(f"chart {name} has no text alternative")
for problem in problems:
    print("FAIL:", problem)
print(f"{len(canvases)} charts drawn:", ", ".join(f"{c['data-chart']} ({c.get('data-rendered')})" for c in canvases))
sys.exit(1 if problems else 0)
PY

# A screenshot of the page's top and of each section alone (?section=ID), for a
# person to look at; CI keeps the build folder.
for section in top provenance layers plans distillation throughput; do
  query=""; [ "$section" = top ] || query="?section=$section"
  chrome "$work/screenshot-$section.log" --virtual-time-budget=10000 --window-size=1200,4000 \
    --screenshot="$work/report-$section.png" "file://$work/report.html$query" >/dev/null \
    || fail "chromium could not take the $section screenshot"
  [ -s "$work/report-$section.png" ] || fail "no screenshot of $section"
done
rm -rf "$work/profile"
echo "screenshots: $work/report-*.png"
echo "browser report test passed"
