"""CI: fail if the README test command skipped a test for any reason but a missing GPU.

Usage: python3 .ci/check_skips.py JUNIT_XML

The run wrote JUNIT_XML (pytest --junitxml); every ``<skipped>`` entry's message is the
test's skip reason. CI provides root, debootstrap, a Debian mirror, chromium, Java, Node and
pip access, so only the tests that need a CUDA device (or check behaviour without one) may skip.
Standard library only.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET

#: skip reasons CI accepts: the machine has no CUDA device / GPU (or the GPU-only check of a CPU build)
ALLOWED = re.compile(r"\b(CUDA|GPU)\b")


def bad_skips(junit_xml: str) -> list[str]:
    """``test id: reason`` of every skip whose reason is not a GPU one."""
    bad = []
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        for skipped in case.findall("skipped"):
            reason = skipped.get("message", "") or (skipped.text or "")
            if not ALLOWED.search(reason):
                bad.append(f"{case.get('classname', '')}::{case.get('name', '')}: {reason.strip()}")
    return bad


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: check_skips.py JUNIT_XML", file=sys.stderr)
        return 2
    try:
        bad = bad_skips(argv[0])
    except (OSError, ET.ParseError) as exc:
        print(f"ci: cannot read the test report {argv[0]!r} ({exc}); did pytest run with --junitxml?", file=sys.stderr)
        return 1
    if bad:
        print(
            f"ci: {len(bad)} test(s) skipped for a reason other than a missing GPU (CI must run them):", file=sys.stderr
        )
        for line in bad[:50]:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("ci: no test skipped except for a missing GPU")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
