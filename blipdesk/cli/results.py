"""Large archives: results files, shards and the Ray cluster scan (``core/results.py``,
``core/cluster.py``).

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def _shard(text: str) -> tuple[int, int]:
    """``I/N`` (1 <= I <= N) -> (I - 1, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("must be I/N, e.g. 2/8") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError("must be I/N with 1 <= I <= N, e.g. 2/8")
    return index - 1, count


def _gpus(text: str) -> float:
    from blipdesk.cli.args import _number

    value: float = _number(text, float, "a number of GPUs, like 1 or 0.5")
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not between 0 and 64: give the GPUs per worker (a fraction shares one)"
        )
    return value


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


def add_parsers(
    sub: Any, add_model_options: Callable[..., None], handler: Callable[..., int]
) -> None:
    from blipdesk.cli.args import (
        DEVICES,
        PRECISIONS,
        add_command,
        batch_size,
        device,
        positive_int,
        precision,
        subcommands,
    )

    results = add_command(sub, "results", "export or import results files (Parquet)")
    actions = subcommands(results, "results_command", required=True)
    export = add_command(
        actions, "export", "write the cached results of the photos under folders to a file"
    )
    export.add_argument("folders", nargs="+", metavar="FOLDER")
    export.add_argument("--output", required=True, metavar="FILE", help="the results file")
    export.add_argument("--no-recursive", action="store_true", help="do not look into subfolders")
    add_model_options(export, compute=False)
    export.set_defaults(handler=handler)
    imp = add_command(
        actions, "import", "merge results files (or folders of them) into the cache, all or nothing"
    )
    imp.add_argument("files", nargs="+", metavar="FILE", help="results files, or folders of them")
    add_model_options(imp, compute=False)
    imp.set_defaults(handler=handler)

    cluster = add_command(sub, "cluster", "scan on a Ray cluster into results files")
    cluster_actions = subcommands(cluster, "cluster_command", required=True)
    scan = add_command(
        cluster_actions, "scan", "score the photos under folders against every tag on Ray"
    )
    scan.add_argument("folders", nargs="+", metavar="FOLDER")
    scan.add_argument("--results", required=True, metavar="DIR", help="results files go here")
    scan.add_argument(
        "--address",
        metavar="ADDR",
        help="auto (the cluster this node belongs to) or ray://HOST:PORT; default: a local Ray "
        "on this machine",
    )
    scan.add_argument(
        "--workers", type=positive_int, default=1, metavar="N", help="scoring actors (default 1)"
    )
    scan.add_argument(
        "--gpus-per-worker",
        type=_gpus,
        default=0.0,
        metavar="G",
        help="GPUs per scoring actor; 0 scores on the CPU (default 0)",
    )
    scan.add_argument(
        "--part-photos",
        type=positive_int,
        default=2048,
        metavar="N",
        help="photos per results file (a killed job redoes at most what was not written)",
    )
    add_model_options(scan, compute=False)  # --model; the desktop's vision cache does not apply
    scan.add_argument(
        "--device",
        type=device,
        metavar="{" + ",".join(DEVICES) + "}",
        help="where the actors run the model (default: settings; auto: a GPU when the worker "
        "has one, else the CPU)",
    )
    scan.add_argument(
        "--precision",
        type=precision,
        metavar="{" + ",".join(PRECISIONS) + "}",
        help="auto: fp16 on a GPU, else bf16 where native or fp32 (default: settings)",
    )
    scan.add_argument(
        "--batch-size",
        type=batch_size,
        metavar="N",
        help="photos per model call, 1 to 1024; 0: automatic (64 on a GPU, 8 on the CPU)",
    )
    scan.add_argument("--no-recursive", action="store_true", help="do not look into subfolders")
    scan.set_defaults(handler=handler)


def run(ns: argparse.Namespace, ctx: Any) -> int:
    if ns.command == "cluster":
        return _cluster_scan(ns, ctx)
    if ns.results_command == "export":
        return _export(ns, ctx)
    return _import(ns, ctx)


# ----------------------------------------------------------------------------------- scan


def scan_options(ns: argparse.Namespace, options: Any) -> Any:
    """``scan``'s options with ``--shard`` applied."""
    from dataclasses import replace

    shard = getattr(ns, "shard", None)
    if shard is not None and not getattr(ns, "results", None):
        from blipdesk.cli import UsageError

        raise UsageError("--shard needs --results DIR (where this shard's results file goes).")
    return options if shard is None else replace(options, shard=shard)


def write_scan_results(
    ns: argparse.Namespace, ctx: Any, library: Any, key: Any, folders: Sequence[str], options: Any
) -> None:
    """After ``scan --results DIR``: the scanned photos' results (this shard's) as one file."""
    if not getattr(ns, "results", None):
        return
    from blipdesk.core.inventory import in_shard
    from blipdesk.core.results import ResultsHeader, cached_results, decode_rule_of, write_results

    index, count = options.shard or (0, 1)
    photos = [
        p
        for p in library.photos_under(folders, options.recursive)
        if p.content and in_shard(p.content, index, count)
    ]
    paths: dict[str, str] = {}
    for p in photos:
        paths.setdefault(p.content, p.path)
    folder = Path(ns.results).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"shard-{index + 1}-of-{count}.parquet"
    header = ResultsHeader(key.score_key, key.source, key.revision, decode_rule_of(key.score_key))
    rows = cached_results(library, key.score_key, list(paths), paths)
    write_results(target, header, rows, protect=[ctx.paths.data_dir])
    print(f"results of {len(paths)} photo(s) written to {target}", file=sys.stderr)


def _cluster_scan(ns: argparse.Namespace, ctx: Any) -> int:
    from blipdesk.cli import EXIT_OK, _folders, _StopOnCtrlC, _warn_long_sentences
    from blipdesk.cli.progress import ProgressPrinter
    from blipdesk.core.cluster import ClusterOptions, cluster_scan
    from blipdesk.core.engine import model_key
    from blipdesk.infra.display import display_path

    folders = _folders(ns.folders)
    first_token = "enc" if ctx.settings.first_token == "enc" else "cls"
    key = model_key(ctx.spec(), first_token)
    with ctx.library(readonly=True) as library:
        sentences = library.all_sentences()
    if not sentences:
        print("blipdesk: no tags yet; storing image features only (for search)", file=sys.stderr)
    _warn_long_sentences(ctx, sentences)  # the actors' own notices stay on the nodes
    options = ClusterOptions(
        address=ns.address,
        workers=ns.workers,
        gpus_per_worker=ns.gpus_per_worker,
        device=ns.device or ctx.settings.device,
        precision=ns.precision or ctx.settings.precision,
        first_token=first_token,
        batch_size=ns.batch_size or 0,
        recursive=not ns.no_recursive and ctx.settings.recursive,
        part_photos=ns.part_photos,
    )
    stop = _StopOnCtrlC("the batch in flight (what is done is written)")
    with stop as cancel, ProgressPrinter("cluster scan") as progress:
        progress.note("starting Ray, listing and hashing the photos, loading the model")
        summary = cluster_scan(
            folders, sentences, key, ctx.spec(), Path(ns.results).expanduser(), options,
            progress, cancel,
        )  # fmt: skip
    for failure in summary.failures:
        print(
            f"blipdesk: unreadable: {display_path(failure.path)}: {failure.reason}",
            file=sys.stderr,
        )
    state = "stopped" if summary.cancelled else "done"
    print(
        f"cluster scan {state}: {summary.photos} photos, {summary.scored} scored "
        f"({summary.pairs} sentence scores), {summary.skipped} already in {ns.results}, "
        f"{len(summary.failures)} unreadable, {len(summary.files)} results file(s) written, "
        f"{summary.seconds:.1f} s",
        file=sys.stderr,
    )
    return stop.exit_code() if summary.cancelled else EXIT_OK


# ----------------------------------------------------------------------------------- files


def _export(ns: argparse.Namespace, ctx: Any) -> int:
    from blipdesk.cli import EXIT_OK, _export_key, _folders
    from blipdesk.core.results import ResultsHeader, cached_results, decode_rule_of, write_results

    folders = _folders(ns.folders)
    with ctx.library(readonly=True) as library:
        score_key, source = _export_key(ctx, library)
        record = library.model_record(score_key)
        revision = record[1] if record else None
        paths: dict[str, str] = {}
        for p in library.photos_under(folders, not ns.no_recursive):
            if p.content:
                paths.setdefault(p.content, p.path)
        header = ResultsHeader(score_key, source, revision, decode_rule_of(score_key))
        rows = cached_results(library, score_key, list(paths), paths)  # read as written
        write_results(ns.output, header, rows, protect=[ctx.paths.data_dir])
    print(f"results of the {len(paths)} photo(s) under the folders written to {ns.output}",
          file=sys.stderr)  # fmt: skip
    return EXIT_OK


def _import(ns: argparse.Namespace, ctx: Any) -> int:
    from blipdesk.cli import EXIT_OK
    from blipdesk.core.results import ResultsFile, check_model, merge_files, results_files

    names = results_files(ns.files)
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(ResultsFile(name)) for name in names]
        with ctx.library() as library:
            score_key, source = _import_key(ctx, library, files)
            for f in files:
                check_model(f, score_key, source)
            scores, vectors, errors = merge_files(library, files)
    photos = sum(f.rows for f in files)
    print(
        f"imported {len(files)} file(s), {photos} photo row(s): {scores} new score(s), {vectors} "
        f"new image vector(s), {errors} new decode error(s) (what the cache held stays); "
        "`blipdesk scan FOLDER` matches them to the photos by content without the model",
        file=sys.stderr,
    )
    return EXIT_OK


def _import_key(ctx: Any, library: Any, files: Sequence[Any]) -> tuple[str, str]:
    """(score key, source) of the library's model. Where the model is not on this machine (a
    laptop that only imports), the cache's record of it, else the files' own key when they name
    the library's model source."""
    from blipdesk.core.engine import model_key
    from blipdesk.core.model import source_key
    from blipdesk.infra.errors import ModelError

    spec = ctx.spec()
    try:
        key = model_key(spec, ctx.settings.first_token)
        return key.score_key, key.source
    except ModelError:
        source = source_key(spec.source)
        found = library.latest_score_key(source)
        if found is not None:
            return str(found), source
        if files and all(f.header.source == source for f in files):
            return str(files[0].header.score_key), source
        raise
