"""Check a built wheel's contents: the icon and desktop file are in, test helpers and tests are not.

pip wheel . --no-deps -w dist && python scripts/check_wheel.py dist/blipdesk-*.whl
"""

from __future__ import annotations

import sys
import zipfile

REQUIRED = (
    "blipdesk/resources/blipdesk.svg",
    "blipdesk/resources/blipdesk.png",
    "blipdesk/resources/blipdesk.desktop",
    "blipdesk/qt/application.py",
)
FORBIDDEN_PREFIXES = ("tests/", "benchmarks/", "scripts/", "blipdesk/testing")


def problems(wheel: str) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    found = [f"missing {name}" for name in REQUIRED if name not in names]
    found += [f"should not ship {n}" for n in names if n.startswith(FORBIDDEN_PREFIXES)]
    found += [f"should not ship {n}" for n in names if "/test_" in n or n.endswith("conftest.py")]
    return found


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: check_wheel.py WHEEL...", file=sys.stderr)
        return 2
    bad = 0
    for wheel in argv:
        for problem in problems(wheel):
            print(f"{wheel}: {problem}", file=sys.stderr)
            bad += 1
        if not bad:
            print(f"{wheel}: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
