#!/usr/bin/env bash
# Renders a report in headless Chromium and checks what a reviewer would see:
# no console message or page error, every section there, every chart drawn
# (its canvas marked data-rendered="N points" by the page's script). Keeps the
# page, the dumped DOM and a screenshot per section in WORK_DIR. Two reports:
#   fixture: the sample run (sample_store.h, a model path full of HTML
#            specials): also checks that no element was injected from user data;
#   demo:    the demo run (`hybridize run CONFIG`, its results reused when the
#            demo already ran into DEMO_OUT): also checks that each of the
#            paper's findings was measured.
# usage: browser_test.sh fixture HYBRIDIZE MAKE_REPORT_FIXTURE WORK_DIR PYTHON
#        browser_test.sh demo HYBRIDIZE CONFIG DEMO_OUT WORK_DIR PYTHON
# Exits 77 (CTest: skipped) only when Chromium is missing.
set -u
mode=$1 exe=$2
case "$mode" in
  fixture) fixture=$3 work=$4 python=$5 ;;
  demo) config=$3 demo_out=$4 work=$5 python=$6 ;;
  *) echo "usage: browser_test.sh fixture|demo ..."; exit 2 ;;
esac

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (scripts/setup.sh installs Debian's chromium package)"
  exit 77
fi

rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

if [ "$mode" = fixture ]; then
  "$fixture" "$work/results.db" || fail "the fixture program could not fill the store"
  out=$("$exe" report --db "$work/results.db" --out "$work/report.html" --title 'Sample <run> & "report"') \
    || fail "hybridize report failed"
  [ "$out" = "$work/report.html" ] || fail "hybridize report printed '$out', not the output path"
else
  # The config with its output folder moved to DEMO_OUT and the teacher's and the benchmark file's paths
  # made absolute (paths in a config are relative to its folder), so the run writes into this build tree.
  config_dir=$(cd "$(dirname "$config")" && pwd)
  teacher=$(cd "$config_dir" && realpath "$(sed -n 's/^path = "\(.*\)".*/\1/p' "$config")")
  sed -e "s|^out = .*|out = \"$demo_out\"|" -e "s|^path = .*|path = \"$teacher\"|" \
      -e "s|^tasks = \[\"\([^\"/][^\"]*\)\"\]|tasks = [\"$config_dir/\1\"]|" "$config" >"$work/demo.toml"
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$exe" run "$work/demo.toml" >"$work/run.log" 2>&1 \
    || { tail -20 "$work/run.log"; fail "hybridize run failed (log: $work/run.log)"; }
  grep -qx "report: $demo_out/report.html" "$work/run.log" || fail "hybridize run did not print the report's path"
  cp "$demo_out/report.html" "$work/report.html"
fi

chrome() {  # chrome LOG ARGS... : one headless run with its own profile, bounded in time
  local log=$1; shift
  timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
    --user-data-dir="$work/profile" --enable-logging=stderr --v=0 --hide-scrollbars "$@" 2>"$log"
}

chrome "$work/dom.log" --virtual-time-budget=10000 --dump-dom "file://$work/report.html" >"$work/dom.html" \
  || fail "chromium could not render the page (see $work/dom.log)"
# Chromium logs every console message of the page as INFO:CONSOLE; the page must log none.
if grep -a "CONSOLE" "$work/dom.log"; then fail "the page wrote to the console (above)"; fi

"$python" - "$work/report.html" "$work/dom.html" "$mode" <<'PY' || exit 1
import sys
from html.parser import HTMLParser

page = open(sys.argv[1], encoding="utf-8").read()
dom = open(sys.argv[2], encoding="utf-8").read()
mode = sys.argv[3]

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
if mode == "fixture":
    if "<script>alert(1)" in page or "<script>alert(1)" in dom:
        problems.append("the model path's <script> reached the page unescaped")
    if "&lt;script&gt;alert(1)&lt;/script&gt;" not in dom:
        problems.append("the model path is not shown (escaped) in the rendered page")
else:
    # The demo measures all three findings: each has a verdict other than "not measured".
    findings = {attrs.get("id"): attrs.get("data-verdict") for tag, attrs in drawn if tag == "article"}
    for finding in ("finding-mamba-count", "finding-placement", "finding-divergence"):
        verdict = findings.get(finding)
        if verdict is None:
            problems.append(f"{finding} is missing")
        elif verdict not in ("reproduced", "within noise", "not reproduced"):
            problems.append(f"{finding} was not measured (verdict {verdict!r})")
    print("findings:", ", ".join(f"{name[8:]} {verdict}" for name, verdict in findings.items() if name))
html_attrs = next(attrs for tag, attrs in drawn if tag == "html")
if "data-errors" in html_attrs:
    problems.append("page errors: " + html_attrs["data-errors"].strip())
for section in ("findings", "provenance", "layers", "plans", "distillation", "throughput", "benchmarks"):
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
for section in top findings provenance layers plans distillation throughput benchmarks; do
  query=""; [ "$section" = top ] || query="?section=$section"
  chrome "$work/screenshot-$section.log" --virtual-time-budget=10000 --window-size=1200,4000 \
    --screenshot="$work/report-$section.png" "file://$work/report.html$query" >/dev/null \
    || fail "chromium could not take the $section screenshot"
  [ -s "$work/report-$section.png" ] || fail "no screenshot of $section"
done
rm -rf "$work/profile"
echo "screenshots: $work/report-*.png"
echo "browser report test passed"
