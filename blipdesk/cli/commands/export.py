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
    add_model_options(export, compute=False)
    export.set_defaults(handler=run)


def run(ns: argparse.Namespace, ctx: Context) -> int:
    folders = existing_folders(ns.folders)
    with ctx.library(readonly=True) as library:
        if ns.output:  # never onto a photo, a sidecar, the model or the cache: refused first
            ctx.output_guard(folders, library).check(ns.output)
        score_key, model = ctx.read_key(library)
        doc = export_document(library, score_key, model, folders, not ns.no_recursive)
    warn_long_sentences(ctx, [s for t in doc["tags"] for s in t["sentences"]])
    what_is_missing(
        ns,
        folders,
        not ns.no_recursive,
        [
            (p["path"], p["error"] is None, {n: t["sentences"] for n, t in p["tags"].items()})
            for p in doc["photos"]
        ],
        {t["name"]: t["sentences"] for t in doc["tags"]},
        "the export",
    )
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
