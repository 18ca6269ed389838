#!/usr/bin/env python3
"""Renders report.html of the committed fixture in headless chromium and checks
that (1) the page loads without console messages (any level),
(2) every SVG chart holds data (polylines with points, bars with height,
markers), (3) compare.html passes the same checks, (4) a screenshot is
produced, has the requested size and is not blank, (5) the page script works:
a click on a legend entry (at its place on screen) and Enter on it hide and
show that series, and the RSS chart's "log y axis" checkbox swaps in the log
copy, judged by computed styles, and (6) with scripts blocked the page shows
every series on the linear axis and no control.

How the script is exercised: a copy of report.html gets a test script appended
(PROBE) that acts like a reader and writes what it saw, as JSON, into
<pre id="test-result">; --dump-dom then returns it with the DOM.

How console errors are caught: chromium's own log (--enable-logging=stderr
--v=0) prints every console message as a line containing "CONSOLE". Log
formats change between chromium versions, so the test first renders a canary
page that calls console.error and fails unless that message is seen: the
detector is proven on the installed chromium before it is trusted to report
"no errors" for the report.
"""
import argparse
import html
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
CONSOLE = re.compile(r"CONSOLE[(:\]]")


def chromium(binary, profile, extra, url):
    cmd = [binary, *FLAGS, "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0", *extra, url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    return p.stdout, p.stderr


def console_lines(log):
    return [line for line in log.splitlines() if CONSOLE.search(line)]


class Charts(html.parser.HTMLParser):
    """Collects, per <svg class="chart">, its data-bearing elements."""

    def __init__(self):
        super().__init__()
        self.charts = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.charts.append({"id": a.get("id", "?"), "points": [], "bars": 0, "markers": 0})
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "svg":
            self.depth += 1
        chart = self.charts[-1]
        if tag == "polyline":
            chart["points"].append(len((a.get("points") or "").split()))
        elif tag == "rect" and "bar" in (a.get("class") or "") and float(a.get("height", "0")) > 0:
            chart["bars"] += 1
        elif tag == "circle":
            chart["markers"] += 1

    def handle_endtag(self, tag):
        if tag == "svg" and self.depth:
            self.depth -= 1


# Appended to a copy of report.html, after the page script: clicks and keys as a reader would, recording
# the computed state after each step. rendered(e): neither e nor an ancestor is display:none.
PROBE = r"""<script>
const out = {};
try {
  const rendered = e => { for (; e; e = e.parentElement) if (getComputedStyle(e).display === 'none') return false; return true; };
  const count = els => els.filter(rendered).length;
  const svg = document.querySelector('svg.chart[id$="-rss"]');
  const keys = [...document.querySelectorAll('svg.chart g.key')];
  out.keys = keys.length;
  out.buttons = keys.filter(k => k.getAttribute('role') === 'button' && k.getAttribute('tabindex') === '0').length;
  const key = svg.querySelector('g.key'), name = key.getAttribute('data-series');
  const all = [...svg.querySelectorAll('g[data-series]:not(.key)')];
  const parts = all.filter(g => g.getAttribute('data-series') === name), others = all.filter(g => !parts.includes(g));
  out.series = name;
  out.parts = parts.length;
  const state = () => ({shown: count(parts), own_hidden: parts.filter(g => getComputedStyle(g).display === 'none').length,
                        others: count(others), pressed: key.getAttribute('aria-pressed'),
                        opacity: getComputedStyle(key).opacity});
  const click = () => {  // where a reader would click: the middle of the entry's label, on screen
    key.scrollIntoView({block: 'center'});
    const r = key.querySelector('text').getBoundingClientRect();
    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    out.hit_is_entry = !!hit && key.contains(hit);
    (hit || key).dispatchEvent(new MouseEvent('click', {bubbles: true}));
  };
  out.before = state();
  click();
  out.clicked = state();
  click();
  out.clicked_again = state();
  key.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
  out.enter = state();
  key.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
  out.enter_again = state();

  const box = svg.previousElementSibling && svg.previousElementSibling.querySelector('input[type=checkbox]');
  out.checkbox = !!box;
  const axes = () => ({linear: count([...svg.querySelectorAll('g.y-linear')]), log: count([...svg.querySelectorAll('g.y-log')]),
                       label: [...svg.querySelectorAll('text.alabel')].filter(rendered).map(t => t.textContent)});
  if (box) {
    out.linear_axis = axes();
    box.click();
    out.log_axis = axes();
    out.log_parts_shown = count(parts);
    box.click();
    out.linear_again = axes();
  }
} catch (e) {
  out.error = String(e && e.stack || e);
}
const pre = document.createElement('pre');
pre.id = 'test-result';
pre.textContent = JSON.stringify(out);
document.body.append(pre);
</script>
"""


def check_script(probe, failures):
    """Failures in what PROBE saw (see its steps)."""
    if "error" in probe:
        failures.append("the probe script threw: " + probe["error"])
        return
    if probe["keys"] < 8 or probe["buttons"] != probe["keys"]:
        failures.append("legend entries: %d, made buttons by the page script: %d" % (probe["keys"], probe["buttons"]))
    if probe["parts"] < 2:
        failures.append("series %r has %d drawn parts in the RSS chart, expected its lines and markers" %
                        (probe["series"], probe["parts"]))
    before = probe["before"]
    if before["shown"] == 0 or before["own_hidden"] or before["pressed"] != "true" or float(before["opacity"]) != 1:
        failures.append("before any click, series %r is not fully shown: %r" % (probe["series"], before))
    if not probe["hit_is_entry"]:
        failures.append("a click on the middle of the legend entry's label does not land on the entry")
    for step in ("clicked", "enter"):
        st = probe[step]
        if st["shown"] or st["own_hidden"] != probe["parts"] or st["pressed"] != "false" or float(st["opacity"]) >= 1:
            failures.append("after %s on its legend entry, series %r is not hidden and marked off: %r" %
                            (step, probe["series"], st))
        if st["others"] != before["others"]:
            failures.append("%s on %r's legend entry changed other series: %r, before %r" %
                            (step, probe["series"], st, before))
    for step in ("clicked_again", "enter_again"):
        if probe[step] != before:
            failures.append("after %s, series %r is not back as before: %r, before %r" %
                            (step, probe["series"], probe[step], before))
    if not probe["checkbox"]:
        failures.append("the RSS chart has no log y axis checkbox before it")
        return
    lin, log = probe["linear_axis"], probe["log_axis"]
    if lin["linear"] != 2 or lin["log"] != 0:
        failures.append("before the checkbox, expected the linear axis and series groups only: %r" % lin)
    if log["linear"] != 0 or log["log"] != 2 or not any("log scale" in t for t in log["label"]):
        failures.append("after ticking log y axis, expected the log axis and series groups only: %r" % log)
    if probe["log_parts_shown"] != before["shown"]:
        failures.append("on the log axis %d of series %r's parts show, on the linear %d" %
                        (probe["log_parts_shown"], probe["series"], before["shown"]))
    if probe["linear_again"] != lin:
        failures.append("unticking log y axis did not restore the linear axis: %r" % probe["linear_again"])


class Static(html.parser.HTMLParser):
    """What a page shows without its script: series groups hidden, log copies, controls."""

    def __init__(self):
        super().__init__()
        self.series = self.hidden_series = self.log = self.hidden_log = self.linear = self.hidden_linear = 0
        self.controls = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        hidden = a.get("display") == "none" or "off" in cls
        if tag == "g" and "data-series" in a and "key" not in cls:
            self.series += 1
            self.hidden_series += hidden
        if tag == "g" and "y-log" in cls:
            self.log += 1
            self.hidden_log += hidden
        if tag == "g" and "y-linear" in cls:
            self.linear += 1
            self.hidden_linear += hidden
        if ("role" in a and "key" in cls) or tag == "input" or "axis-switch" in cls:
            self.controls += 1


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--heapmark", required=True)
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--screenshot-out", help="keep the screenshot here (e.g. docs/report.png)")
    ap.add_argument("--size", default="1280,2400")
    args = ap.parse_args()
    if not args.chromium or args.chromium.endswith("-NOTFOUND") or not shutil.which(args.chromium):
        print("skipped: chromium is not installed (apt-get install chromium; scripts/test installs it)")
        return 77
    failures = []
    work = tempfile.mkdtemp(prefix="hm-browser-")
    try:
        out = os.path.join(work, "out")
        subprocess.run([args.heapmark, "report", args.fixture, "--out", out, "-q"], check=True)
        page = "file://" + os.path.join(out, "report.html")

        canary = os.path.join(work, "canary.html")
        with open(canary, "w") as f:
            f.write("<!DOCTYPE html><html><body><script>console.error('hm-canary-error')</script></body></html>")
        _, log = chromium(args.chromium, os.path.join(work, "p0"), ["--dump-dom"], "file://" + canary)
        if not any("hm-canary-error" in line for line in console_lines(log)):
            failures.append("console detector did not see the canary's console.error; log was:\n" + log[-2000:])

        dom, log = chromium(args.chromium, os.path.join(work, "p1"), ["--dump-dom"], page)
        for line in console_lines(log):
            failures.append("console message while loading report.html: " + line)
        if "Matrix at a glance" not in dom:
            failures.append("the dumped DOM lacks the report (did the page load?)")
        parser = Charts()
        parser.feed(dom)
        if len(parser.charts) < 8:  # fixture: 2 groups x (RSS, alloc and free latency, phase bars)
            failures.append("expected at least 8 charts, found %d" % len(parser.charts))
        for c in parser.charts:
            has_lines = any(n >= 2 for n in c["points"])
            if not (has_lines or c["bars"] > 0):
                failures.append("chart %s has no data: %r" % (c["id"], c))
            if c["id"].endswith("-rss") and max(c["points"] or [0]) < 10:
                failures.append("timeline chart %s has fewer than 10 points per line" % c["id"])
            if "-lat-" in c["id"] and c["markers"] < 5:
                failures.append("latency chart %s has fewer than 5 markers" % c["id"])

        # compare.html: the same checks on the comparison page (fixture against itself).
        cmp_page = os.path.join(work, "compare.html")
        subprocess.run([args.heapmark, "compare", args.fixture, args.fixture, "--html", cmp_page],
                       check=True, stdout=subprocess.DEVNULL)
        dom, log = chromium(args.chromium, os.path.join(work, "p3"), ["--dump-dom"], "file://" + cmp_page)
        for line in console_lines(log):
            failures.append("console message while loading compare.html: " + line)
        cmp_charts = Charts()
        cmp_charts.feed(dom)
        if not cmp_charts.charts or not all(c["markers"] > 0 and c["points"] for c in cmp_charts.charts):
            failures.append("compare.html: interval charts missing or empty: %r" % cmp_charts.charts[:3])

        # The page script, driven as a reader would (PROBE).
        with open(os.path.join(out, "report.html")) as f:
            report_html = f.read()
        probed = os.path.join(out, "probed.html")
        with open(probed, "w") as f:
            f.write(report_html.replace("</body>", PROBE + "</body>"))
        dom, log = chromium(args.chromium, os.path.join(work, "p4"), ["--dump-dom"], "file://" + probed)
        for line in console_lines(log):
            failures.append("console message while probing the page script: " + line)
        m = re.search(r'<pre id="test-result">(.*?)</pre>', dom, re.S)
        if not m:
            failures.append("the probe left no result (did it run?)")
        else:
            check_script(json.loads(html.unescape(m.group(1))), failures)

        # Scripts off: everything shown, on the linear axis, and no control that would do nothing. Headless
        # chromium dumps nothing with --blink-settings=scriptEnabled=false, so a Content-Security-Policy
        # blocks the page's scripts instead (chromium logs the refusal, which proves there was one to block).
        nojs = os.path.join(out, "nojs.html")
        with open(nojs, "w") as f:
            f.write(report_html.replace("<head>", "<head>\n<meta http-equiv=\"Content-Security-Policy\" "
                                        "content=\"script-src 'none'\">", 1))
        dom, log = chromium(args.chromium, os.path.join(work, "p5"), ["--dump-dom"], "file://" + nojs)
        if not any("Content Security Policy" in line for line in console_lines(log)):
            failures.append("with scripts blocked, chromium did not report refusing the page script")
        static = Static()
        static.feed(dom)
        if "Matrix at a glance" not in dom:
            failures.append("with scripts off, the dumped DOM lacks the report")
        if static.controls:
            failures.append("with scripts off, %d legend buttons or checkboxes exist (did scripts run?)" % static.controls)
        if static.series < 8 or static.hidden_series:
            failures.append("with scripts off, %d of %d series groups are hidden" % (static.hidden_series, static.series))
        if not static.log or static.hidden_log != static.log or static.linear != static.log or static.hidden_linear:
            failures.append("with scripts off, expected every log copy hidden and every linear one shown: "
                            "log %d (hidden %d), linear %d (hidden %d)" %
                            (static.log, static.hidden_log, static.linear, static.hidden_linear))

        shot = os.path.join(work, "shot.png")
        chromium(args.chromium, os.path.join(work, "p2"), ["--screenshot=" + shot, "--window-size=" + args.size,
                                                           "--hide-scrollbars"], page)
        size = png_size(shot) if os.path.exists(shot) else None
        want = tuple(int(v) for v in args.size.split(","))
        if size != want:
            failures.append("screenshot missing or of size %r, expected %r" % (size, want))
        elif os.path.getsize(shot) < 30000:  # a blank page compresses to a few KiB
            failures.append("screenshot is nearly empty (%d bytes)" % os.path.getsize(shot))
        elif args.screenshot_out:
            shutil.copy(shot, args.screenshot_out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("ok: report.html renders in chromium with %d charts and no console messages" % len(parser.charts))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
