"""The headless command line. Never imports Qt: it starts fast and runs on servers."""

from __future__ import annotations

import argparse
import sys

from blipdesk import __version__
from blipdesk.errors import UserError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blipdesk",
        description="Tag local photos with sentences, scored by BLIP image-text matching. "
        "Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"blipdesk {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep all of blipdesk's state (settings, tags, cache, thumbnails) under DIR "
        "(default: $BLIPDESK_DATA_DIR, else the platform's user data folder)",
    )
    parser.add_argument("folder", nargs="?", help="open the app on this folder")
    parser.set_defaults(command=None)
    return parser


def run(ns: argparse.Namespace) -> int:
    try:
        return ns.handler(ns)
    except UserError as exc:
        print(f"blipdesk: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
