"""Rewrite every ``fixtures/<case>/output.py`` from the current compiler.

Only for a deliberate change to the emitted code; review the diff afterwards.
Refuses to run unless ``WF_REGEN_FIXTURES=1`` is set, so it can never run in CI
by accident (pytest does not collect it: its name does not start with test_).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> int:
    if os.environ.get("WF_REGEN_FIXTURES") != "1":
        print("set WF_REGEN_FIXTURES=1 to regenerate the golden outputs", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).parent))
    from test_compile_fixtures import CASES, FIXTURES, compile_fixture

    for case in CASES:
        result = compile_fixture(case)
        if result.diagnostics:
            print(f"{case}: not written, diagnostics:", *result.diagnostics, sep="\n  ")
            continue
        (FIXTURES / case / "output.py").write_bytes(result.code.encode("utf-8"))
        print(f"{case}: written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
