"""``blipdesk export FOLDER...``: the cached tags and scores as JSON or CSV (never loads the
model)."""

from __future__ import annotations

import argparse
import sys

from blipdesk.cli.args import Commands, add_command, add_model_options
from blipdesk.cli.context import (
    EXIT_OK,
    Context,
    existing_folders,
    warn_long_sentences,
    what_is_missing,
)
from blipdesk.services.export import export_bytes, export_document, write_export
from blipdesk.services.library_filter import matching_paths
from blipdesk.services.photo_filter import WORDS_HELP
from blipdesk.services.smart_views import FILE_NAME, filter_option


def register(commands: Commands) -> None:
    export = add_command(commands, "export", "write cached tags and scores (never loads the model)")
    export.add_argument("folders", nargs="+", metavar="FOLDER")
    export.add_argument(
        "--format",
        choices=("json", "csv"),
        default="json",
        help="json: one document with the tags and every photo; csv: one row per photo, tag "
        "and sentence (default: json)",
    )
    export.add_argument("--output", metavar="FILE", help="default: standard output")
    export.add_argument("--no-recursive", action="store_true", help="do not look into subfolders")
    export.add_argument(
        "--filter",
        metavar="WORDS",
        help=f"export only the photos this filter keeps, as the window's filter bar does: "
        f"{WORDS_HELP}; view:NAME starts from a smart view saved in the window",
    )
    add_model_options(export, compute=False)
    export.set_defaults(handler=run)


def run(ns: argparse.Namespace, ctx: Context) -> int:
    folders = existing_folders(ns.folders)
    recursive = not ns.no_recursive
    # A bad filter word or view name is said before anything is read.
    state = filter_option(ns.filter, ctx.paths.data_dir / FILE_NAME) if ns.filter else None
    with ctx.library(readonly=True) as library:
        if ns.output:  # never onto a photo, a sidecar, the model or the cache: refused first
            ctx.output_guard(folders, library).check(ns.output)
        score_key, model = ctx.read_key(library)
        doc = export_document(library, score_key, model, folders, recursive)
        kept = (
            None if state is None else matching_paths(library, score_key, folders, recursive, state)
        )
    warn_long_sentences(ctx, [s for t in doc["tags"] for s in t["sentences"]])
    what_is_missing(
        ns,
        folders,
        recursive,
        [
            (p["path"], p["error"] is None, {n: t["sentences"] for n, t in p["tags"].items()})
            for p in doc["photos"]
        ],
        {t["name"]: t["sentences"] for t in doc["tags"]},
        "the export",
    )  # of every photo under the folders: one the filter leaves out is no unscanned photo
    if kept is not None:
        doc["photos"] = [p for p in doc["photos"] if p["path"] in kept]
    if ns.output:
        write_export(doc, ns.format, ns.output, protect=[ctx.paths.data_dir])
    else:
        data = export_bytes(doc, ns.format)
        out = getattr(sys.stdout, "buffer", None)  # None: replaced by a str-only stream
        if out is None:
            sys.stdout.write(data.decode("utf-8", "surrogateescape"))
        else:
            sys.stdout.flush()
            out.write(data)
            out.flush()
    return EXIT_OK
