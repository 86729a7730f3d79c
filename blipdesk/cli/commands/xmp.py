"""``blipdesk xmp FOLDER...``: the matched tags into XMP sidecars (or, with ``--remove``,
blipdesk's keywords out of them)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from blipdesk.cli.args import Commands, add_command, add_model_options
from blipdesk.cli.context import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Context,
    StopOnCtrlC,
    existing_folders,
    what_is_missing,
)
from blipdesk.infra.display import display_path, display_text

if TYPE_CHECKING:
    from blipdesk.domain import Tag


def register(commands: Commands) -> None:
    xmp = add_command(
        commands,
        "xmp",
        "write the matched tags to XMP sidecars for digiKam, darktable, Lightroom",
        description="Write each photo's matched tags (from the cache; never loads the model) "
        "into its XMP sidecar, merged with what is there. Exit code 1 if a sidecar could not be "
        "read or written (listed on stderr; the others are done).",
    )
    xmp.add_argument("folders", nargs="+", metavar="FOLDER")
    xmp.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    xmp.add_argument(
        "--remove",
        action="store_true",
        help="take blipdesk's keywords out of every sidecar under the folders instead",
    )
    xmp.add_argument(
        "--naming",
        choices=("jpg.xmp", "xmp"),
        default="jpg.xmp",
        help="photo.jpg.xmp (darktable, digiKam; default) or photo.xmp (Lightroom, raw files)",
    )
    xmp.add_argument("--no-recursive", action="store_true", help="do not look into subfolders")
    add_model_options(xmp, compute=False)
    xmp.set_defaults(handler=run)


def run(ns: argparse.Namespace, ctx: Context) -> int:
    """Per sidecar: a bad one is listed on stderr and the others are done (exit 1). Ctrl-C,
    SIGTERM and SIGHUP stop after the sidecar in flight (exit 130); a temporary file that a
    ``kill -9`` left is removed by the next run."""
    from blipdesk.services import sidecars

    folders = existing_folders(ns.folders)
    recursive = not ns.no_recursive
    refused: list[str] = []
    if ns.remove:
        plans = sidecars.plan_removal_under(folders, recursive)
    else:
        with ctx.library() as library:
            score_key, _model = ctx.read_key(library)
            tags = library.tags()
            results = library.photo_results(score_key, folders, recursive, tags)
            refused = _unwritable_tags(tags)
        what_is_missing(
            ns,
            folders,
            recursive,
            [
                (r.path, r.error is None, {n: ts.sentences for n, ts in r.tags.items()})
                for r in results
            ],
            {t.name: t.sentences for t in tags},
            "the sidecars",
        )
        matched = {
            r.path: [name for name, ts in r.tags.items() if ts.match and name not in refused]
            for r in results
            if r.error is None  # unscored or unreadable: its sidecar is left alone
        }
        plans = sidecars.plan_sidecars(matched, ns.naming)
    stop = StopOnCtrlC("the sidecar in flight", ("SIGINT", "SIGTERM", "SIGHUP"))
    with stop as cancel:
        report = sidecars.apply_plans(plans, dry_run=ns.dry_run, cancel=cancel)
    for path in report.cleaned:
        print(
            f"blipdesk: removed {display_path(path)}, a temporary file an interrupted run left",
            file=sys.stderr,
        )
    for plan in report.changed:
        print(sidecars.describe(plan))
    for error in report.failed:
        print(f"blipdesk: {display_text(str(error))}", file=sys.stderr)
    verb = "would change" if ns.dry_run else "changed"
    print(
        f"{len(report.changed)} sidecars {verb}, {len(report.unchanged)} unchanged, "
        f"{len(report.failed) + len(refused)} failed" + (", stopped" if report.stopped else ""),
        file=sys.stderr,
    )
    if report.stopped:
        return EXIT_INTERRUPTED
    return EXIT_ERROR if report.failed or refused else EXIT_OK


def _unwritable_tags(tags: Iterable[Tag]) -> list[str]:
    """Tags an older blipdesk accepted that no sidecar can hold (``tags add`` now refuses them):
    each is named once on stderr and left out, and every sidecar is still written with the
    others. (Tags that fold onto one sidecar entry are written once, with a note per sidecar.)"""
    from blipdesk.services import sidecars

    refused = []
    for tag in tags:
        bad = sidecars.xmp_text_problem(tag.name)
        if bad:
            refused.append(tag.name)
            print(
                f"blipdesk: tag {tag.name!r} left out of every sidecar: it holds {bad}, which "
                "XMP cannot carry (rename it)",
                file=sys.stderr,
            )
    return refused
