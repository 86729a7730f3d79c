"""Large archives: results files and shards (``core/results.py``; the Ray cluster scan that
writes them is commands/cluster.py).

    blipdesk results export FOLDER... --output FILE [--model M] [--no-recursive]
    blipdesk results import FILE_OR_FOLDER... [--model M]
    blipdesk scan FOLDER... --shard I/N --results DIR          # this machine's part of N
    blipdesk cluster scan FOLDER... --results DIR [--address auto|ray://HOST:PORT]
                          [--workers N] [--gpus-per-worker G] [--model M] [--batch-size B]

Results map to photos by content hash: import them on the laptop, then ``blipdesk scan FOLDER``
there finds every score cached (and never loads the model). The sentences scored are the tags of
the data folder the command runs with. Never imports Qt; ``--help`` imports neither torch, Ray
nor pyarrow.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blipdesk.cli.args import Commands, add_command, add_model_options, subcommands
from blipdesk.cli.context import EXIT_OK, Context, UsageError, existing_folders
from blipdesk.infra.display import display_path, display_text
from blipdesk.infra.errors import UserError

if TYPE_CHECKING:
    from blipdesk.core.engine import ModelKey, ScanOptions
    from blipdesk.store import Library


def _shard(text: str) -> tuple[int, int]:
    """``I/N`` (1 <= I <= N) -> (I - 1, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("must be I/N, e.g. 2/8") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError("must be I/N with 1 <= I <= N, e.g. 2/8")
    return index - 1, count


def add_scan_options(scan: argparse.ArgumentParser) -> None:
    """``scan``'s options for sharding and results files."""
    scan.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="scan only part I of N of the photos (split by content hash: N machines, or an "
        "array job, each take one); use with --results",
    )
    scan.add_argument(
        "--results",
        metavar="DIR",
        help="also write the scanned photos' results to DIR as a results file "
        "(shard-I-of-N.parquet), for `blipdesk results import` elsewhere",
    )


def register(commands: Commands) -> None:
    results = add_command(commands, "results", "export or import results files (Parquet)")
    actions = subcommands(results, "results_command", required=True)
    export = add_command(
        actions, "export", "write the cached results of the photos under folders to a file"
    )
    export.add_argument("folders", nargs="+", metavar="FOLDER")
    export.add_argument("--output", required=True, metavar="FILE", help="the results file")
    export.add_argument("--no-recursive", action="store_true", help="do not look into subfolders")
    add_model_options(export, compute=False)
    export.set_defaults(handler=export_results)
    imp = add_command(
        actions, "import", "merge results files (or folders of them) into the cache, all or nothing"
    )
    imp.add_argument("files", nargs="+", metavar="FILE", help="results files, or folders of them")
    imp.add_argument(
        "--no-tags",
        action="store_true",
        help="do not add the tags of the library that wrote the files (by default those this "
        "library lacks are added; existing tags are never changed)",
    )
    add_model_options(imp, compute=False)
    imp.set_defaults(handler=import_results)


# ----------------------------------------------------------------------------------- scan


def results_folder(
    ctx: Context,
    name: str,
    folders: Sequence[str],
    library: Library | None,
    files: Sequence[str] = (),
) -> Path:
    """A ``--results`` folder, checked before any work: never a photo, a sidecar, the model's or
    the data folder (``Context.output_guard``, for the folder and the ``files`` that will go in
    it), a folder, and one this process can write (made when missing)."""
    from blipdesk.infra.errors import UserError

    guard = ctx.output_guard(folders, library)
    folder = Path(name).expanduser()
    guard.check(folder)
    for file in files:
        guard.check(folder / file)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--results {display_path(name)} is a file, not a folder; name a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(
            f"Cannot write results into {display_path(name)}: {exc.strerror or exc}; "
            "choose another --results folder."
        ) from None
    return folder


def scan_options(ns: argparse.Namespace, options: ScanOptions) -> ScanOptions:
    """``scan``'s options with ``--shard`` applied."""
    from dataclasses import replace

    shard = getattr(ns, "shard", None)
    if shard is not None and not getattr(ns, "results", None):
        raise UsageError("--shard needs --results DIR (where this shard's results file goes).")
    return options if shard is None else replace(options, shard=shard)


def shard_name(options: ScanOptions) -> str:
    """The results file of ``scan --shard I/N --results DIR`` (``shard-I-of-N.parquet``)."""
    index, count = options.shard or (0, 1)
    return f"shard-{index + 1}-of-{count}.parquet"


def write_scan_results(
    ns: argparse.Namespace,
    ctx: Context,
    library: Library,
    key: ModelKey,
    folders: Sequence[str],
    options: ScanOptions,
) -> None:
    """After ``scan --results DIR``: the scanned photos' results (this shard's) as one file."""
    if not getattr(ns, "results", None):
        return
    from blipdesk.core.inventory import in_shard
    from blipdesk.core.results import ResultsHeader, cached_results, decode_rule_of, write_results

    index, count = options.shard or (0, 1)
    paths: dict[str, str] = {}
    for p in library.photos_under(folders, options.recursive):
        if p.content and in_shard(p.content, index, count):
            paths.setdefault(p.content, p.path)
    target = results_folder(ctx, ns.results, folders, library) / shard_name(options)
    header = ResultsHeader(
        key.score_key, key.source, key.revision, decode_rule_of(key.score_key),
        tags=tuple(library.tags()),
    )  # fmt: skip
    rows = cached_results(library, key.score_key, list(paths), paths)
    write_results(target, header, rows, protect=[ctx.paths.data_dir])
    print(f"results of {len(paths)} photo(s) written to {display_path(target)}", file=sys.stderr)


# ----------------------------------------------------------------------------------- files


def export_results(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.core.results import ResultsHeader, cached_results, decode_rule_of, write_results

    folders = existing_folders(ns.folders)
    with ctx.library(readonly=True) as library:
        ctx.output_guard(folders, library).check(ns.output)
        score_key, source = ctx.read_key(library)
        record = library.model_record(score_key)
        revision = record[1] if record else None
        paths: dict[str, str] = {}
        for p in library.photos_under(folders, not ns.no_recursive):
            if p.content:
                paths.setdefault(p.content, p.path)
        header = ResultsHeader(
            score_key, source, revision, decode_rule_of(score_key), tags=tuple(library.tags())
        )
        rows = cached_results(library, score_key, list(paths), paths)  # read as written
        write_results(ns.output, header, rows, protect=[ctx.paths.data_dir])
    print(f"results of the {len(paths)} photo(s) under the folders written to {display_path(ns.output)}",
          file=sys.stderr)  # fmt: skip
    return EXIT_OK


def import_results(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.core.model import source_key
    from blipdesk.core.results import ResultsFile, check_model, merge_files, results_files

    names = results_files(ns.files)
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(ResultsFile(name)) for name in names]
        with ctx.library() as library:
            score_key, source = _import_key(ns, ctx, files)
            # the model's config (its ITC size) is read only for the library's own model, never
            # from a place a file names
            ours = source == source_key(ctx.model().source)
            for f in files:
                if ours:
                    check_model(f, score_key, source)
            scores, vectors, errors = merge_files(library, files)
            added = [] if ns.no_tags else _add_tags(library, files)
    photos = sum(f.rows for f in files)
    if added:
        print(f"added {len(added)} tag(s) of the library that wrote the file(s): "
              f"{', '.join(display_text(t, 80) for t in added)}", file=sys.stderr)  # fmt: skip
    print(
        f"imported {len(files)} file(s), {photos} photo row(s): {scores} new score(s), {vectors} "
        f"new image vector(s), {errors} new decode error(s) (what the cache held stays); "
        f"`blipdesk scan FOLDER{'' if ours else ' --model ' + display_text(source, 200)}` "
        "matches them to the photos by content without the model",
        file=sys.stderr,
    )
    return EXIT_OK


def _add_tags(library: Library, files: Sequence[Any]) -> list[str]:
    """Add the tags the files carry that this library lacks (by name; an existing tag is never
    changed, and the first file naming a tag wins). Returns the names added."""
    added: list[str] = []
    for f in files:
        for tag in f.header.tags:
            if library.tag(tag.name) is None:
                try:
                    library.put_tag(tag)
                except UserError as exc:  # a name or sentence this library refuses
                    print(f"blipdesk: tag not added: {exc}", file=sys.stderr)
                    continue
                added.append(tag.name)
    return added


def _import_key(ns: argparse.Namespace, ctx: Context, files: Sequence[Any]) -> tuple[str, str]:
    """(score key, source) the files are imported under: their own model identity (the score
    key they carry; ``merge_files`` refuses files of different keys). An import needs no model,
    so nothing is resolved or downloaded: a laptop without the weights imports as well. A
    ``--model`` must name the files' model."""
    from blipdesk.core.imaging import DECODE_RULE_VERSION
    from blipdesk.core.model import source_key
    from blipdesk.core.results import decode_rule_of

    for f in files:  # other pixels than this blipdesk decodes: the scores would differ
        rule = f.header.decode_rule
        if rule != DECODE_RULE_VERSION or decode_rule_of(f.header.score_key) != DECODE_RULE_VERSION:
            raise f.fail(
                f"its photos were decoded with rule {rule}, this blipdesk decodes with rule "
                f"{DECODE_RULE_VERSION} (the scores would differ); scan them again"
            )
    first = files[0].header
    if getattr(ns, "model", None) is not None:
        chosen = source_key(ctx.model().source)
        if chosen != first.source:
            raise files[0].fail(
                f"scored by another model ({display_text(first.source, 200)}) than --model "
                f"({display_text(chosen, 200)}); leave --model out to import it as it is"
            )
    return str(first.score_key), str(first.source)
