"""``blipdesk scan FOLDER...``: score the photos under folders against every tag (and, with
``--shard``/``--results``, write this machine's part as a results file: commands/results.py)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from blipdesk.cli.args import Commands, add_command, add_model_options
from blipdesk.cli.commands import results
from blipdesk.cli.context import (
    EXIT_ERROR,
    EXIT_OK,
    Context,
    StopOnCtrlC,
    command,
    existing_folders,
)
from blipdesk.cli.progress import ProgressPrinter
from blipdesk.infra.display import display_path, display_text

if TYPE_CHECKING:
    from blipdesk.core.engine import ScanSummary


def register(commands: Commands) -> None:
    scan = add_command(commands, "scan", "score the photos under folders against every tag")
    scan.add_argument("folders", nargs="+", metavar="FOLDER")
    add_model_options(scan, compute=True)
    results.add_scan_options(scan)
    scan.set_defaults(handler=run)


def run(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.core.engine import scan
    from blipdesk.services.options import scan_key

    folders = existing_folders(ns.folders)
    ctx.check_device()
    options = results.scan_options(ns, ctx.options())
    stop = StopOnCtrlC()
    with ctx.library() as library, stop as cancel, ProgressPrinter("scan") as progress:
        key = scan_key(library, ctx.model())  # imported results need no weights
        if ns.results:  # a bad --results folder is refused before the scan, not after it
            results.results_folder(ctx, ns.results, folders, library, [results.shard_name(options)])
        ctx.remember_model()  # only once the cache opened: a refused scan changes no setting
        ctx.remember_feature_budget()
        sentences = library.all_sentences()
        if not sentences:
            print(
                "blipdesk: no tags yet; storing image features only (for search). Add a tag "
                f"with: {command(ns, 'tags', 'add', 'NAME')}",
                file=sys.stderr,
            )
        progress.note("looking for photos and reading new ones")
        summary = scan(
            library,
            folders,
            sentences,
            key,
            ctx.scorer(progress),
            options,
            progress,
            None,
            cancel,
        )
        results.write_scan_results(ns, ctx, library, key, folders, options)
    for failure in summary.failures:
        print(
            f"blipdesk: unreadable: {display_path(failure.path)}: {display_text(failure.reason)}",
            file=sys.stderr,
        )
    for failure in summary.unreadable_folders:
        print(
            f"blipdesk: unreadable folder: {display_path(failure.path)}: {display_text(failure.reason)}",
            file=sys.stderr,
        )
    for notice in summary.notices:
        print(f"blipdesk: {display_text(notice)}", file=sys.stderr)
    print(summary_line(summary), file=sys.stderr, flush=True)
    if summary.cancelled:
        return stop.exit_code()
    return EXIT_ERROR if summary.unreadable_folders else EXIT_OK


def summary_line(summary: ScanSummary) -> str:
    """One line whose counts add up to the photos found (the scan printed its problems above):
    ``scan done: 7 photos: 4 scored (1 from the vision cache), 1 duplicate, 1 already scored,
    1 unreadable; 2.1 s``; the counts are ``ScanSummary.tally`` (the window shows the same)."""
    state = "stopped" if summary.cancelled else "done"
    line = f"scan {state}: {summary.tally()}; {summary.seconds:.1f} s"
    if summary.unreadable_folders:
        line += f"; {len(summary.unreadable_folders)} folder(s) not read"
    if not summary.model_loaded and not summary.cancelled:
        line += " (nothing new to score; model not loaded)"
    return line
