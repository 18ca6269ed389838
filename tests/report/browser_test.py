#!/usr/bin/env python3
"""Renders report.html of the committed fixture in headless chromium and checks
that (1) the page loads without console messages (any level),
(2) every SVG chart holds data (polylines with points, bars with height,
markers), (3) compare.html passes the same checks, and (4) a screenshot is
produced, has the requested size and is not blank.

How console errors are caught: chromium's own log (--enable-logging=stderr
--v=0) prints every console message as a line containing "CONSOLE". Log
formats change between chromium versions, so the test first renders a canary
page that calls console.error and fails unless that message is seen: the
detector is proven on the installed chromium before it is trusted to report
"no errors" for the report.
"""
import argparse
import html.parser
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
