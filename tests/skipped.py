#!/usr/bin/env python3
"""Lists the tests a ctest run skipped, each with its reason, and how many.

    ctest --test-dir build --output-junit ctest.xml ...
    python3 tests/skipped.py build/ctest.xml

The reason is the test's own message: a GoogleTest skip's text (the lines
after "...: Skipped"), or a script's "SKIP: ..." line (exit code 77).
Tests that skip on a fresh clone say which file or tool they need, so this
list is what a run did not check. Exits 0 (it reports, it does not judge)."""
import sys
import xml.etree.ElementTree as ET


def reason(out):
    lines = [l.rstrip() for l in (out or "").splitlines()]
    for i, l in enumerate(lines):
        if l.startswith("SKIP:"):
            return l[len("SKIP:"):].strip()
        if l.endswith(": Skipped") or l == "Skipped":
            text = []
            for m in lines[i + 1:]:
                if not m.strip() or m.startswith("[  SKIPPED ]"):
                    break
                text.append(m.strip())
            if text:
                return " ".join(text)
    rest = [l for l in lines if l.strip()]
    return rest[-1] if rest else "(no message)"


def main(path):
    root = ET.parse(path).getroot()
    cases = root.iter("testcase")
    skipped = [(c.get("name"), reason(c.findtext("system-out")))
               for c in cases if c.find("skipped") is not None]
    total = sum(1 for _ in root.iter("testcase"))
    print(f"skipped: {len(skipped)} of {total} tests")
    for name, why in skipped:
        print(f"  {name}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
