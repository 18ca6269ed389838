#!/usr/bin/env python3
"""Reads ctest's JUnit file (ctest --output-junit) and prints one line,
"PASSED FAILED SKIPPED", then one line per failed or skipped test:
"failed NAME" or "skipped NAME: REASON" (GoogleTest's GTEST_SKIP message, or
ctest's own reason). scripts/test sums these into its closing summary."""
import sys
import xml.etree.ElementTree as ET


def skip_reason(case):
    out = case.findtext("system-out") or ""
    lines = out.splitlines()
    for line in lines:  # a script's own skip (exit 77): "skipped: REASON"
        if line.startswith("skipped: "):
            return line[len("skipped: "):].strip()
    for i, line in enumerate(lines):
        # GoogleTest prints "file:line: Skipped" and the message on the next line(s).
        if line.rstrip().endswith(": Skipped"):
            reason = " ".join(l.strip() for l in lines[i + 1:i + 3] if l.strip() and not l.startswith("["))
            if reason:
                return reason
    skipped = case.find("skipped")
    if skipped is not None and skipped.get("message"):
        return skipped.get("message")
    return "no reason given"


def main(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print("0 1 0")
        print(f"failed (no readable JUnit file {path}: {e})")
        return
    passed = failed = skipped = 0
    notes = []
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        status = case.get("status", "")
        if case.find("failure") is not None or case.find("error") is not None or status == "fail":
            failed += 1
            notes.append(f"failed {name}")
        elif case.find("skipped") is not None or status in ("notrun", "disabled"):
            skipped += 1
            notes.append(f"skipped {name}: {skip_reason(case)}")
        else:
            passed += 1
    print(f"{passed} {failed} {skipped}")
    for n in notes:
        print(n)


if __name__ == "__main__":
    main(sys.argv[1])
