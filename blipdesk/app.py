"""Composition root: parse the command line, then start the GUI or a headless command.

Nothing heavy is imported here: torch and transformers load only when a model is needed, and Qt
only when the window opens, so ``blipdesk --help`` and the window appear fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from blipdesk import cli

    args = list(sys.argv[1:] if argv is None else argv)
    parser = cli.build_parser()
    ns = parser.parse_args(args)
    if getattr(ns, "command", None):
        return cli.run(ns)
    return start_gui(ns)


def start_gui(ns: argparse.Namespace) -> int:
    """Open the desktop window (on ``ns.folder`` when given)."""
    try:
        from blipdesk.qt.application import run_gui
    except ImportError as exc:
        print(f"blipdesk: the desktop window cannot start: {exc}", file=sys.stderr)
        return 1
    return run_gui(ns)
