"""``blipdesk cluster scan FOLDER... --results DIR``: scan on a Ray cluster into results files
(``core/cluster.py``; ``blipdesk results import`` brings them home: commands/results.py). Never
imports Qt; ``--help`` imports neither torch nor Ray.
"""

from __future__ import annotations

import argparse
import sys

from blipdesk.cli.args import (
    DEVICES,
    PRECISIONS,
    Commands,
    add_command,
    add_model_options,
    batch_size,
    device,
    positive_int,
    precision,
    subcommands,
)
from blipdesk.cli.commands.results import results_folder
from blipdesk.cli.context import (
    EXIT_OK,
    Context,
    StopOnCtrlC,
    existing_folders,
    warn_long_sentences,
)
from blipdesk.cli.progress import ProgressPrinter
from blipdesk.infra.display import display_path, display_text


def _gpus(text: str) -> float:
    from blipdesk.cli.args import _number

    value: float = _number(text, float, "a number of GPUs, like 1 or 0.5")
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not between 0 and 64: give the GPUs per worker (a fraction shares one)"
        )
    return value


def register(commands: Commands) -> None:
    cluster = add_command(commands, "cluster", "scan on a Ray cluster into results files")
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
    scan.set_defaults(handler=run)


def run(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.core.cluster import ClusterOptions, check_address, cluster_scan

    folders = existing_folders(ns.folders)
    check_address(ns.address)  # before the model and the photos: one line on a bad one
    choice = ctx.model()
    key = ctx.write_key()
    with ctx.library(readonly=True) as library:
        sentences = library.all_sentences()
        # Refused, or found unwritable, before Ray starts: not after the job ran.
        results_dir = results_folder(ctx, ns.results, folders, library)
    if not sentences:
        print("blipdesk: no tags yet; storing image features only (for search)", file=sys.stderr)
    warn_long_sentences(ctx, sentences)  # the actors' own notices stay on the nodes
    options = ClusterOptions(
        address=ns.address,
        workers=ns.workers,
        gpus_per_worker=ns.gpus_per_worker,
        device=choice.device,
        precision=choice.precision,
        first_token=choice.first_token,
        batch_size=ns.batch_size or 0,
        recursive=ctx.options().recursive,
        part_photos=ns.part_photos,
    )
    stop = StopOnCtrlC("the batch in flight (what is done is written)")
    with stop as cancel, ProgressPrinter("cluster scan") as progress:
        progress.note("starting Ray, listing and hashing the photos, loading the model")
        summary = cluster_scan(
            folders, sentences, key, ctx.spec(), results_dir, options,
            progress, cancel,
        )  # fmt: skip
    for failure in summary.failures:
        print(
            f"blipdesk: unreadable: {display_path(failure.path)}: {display_text(failure.reason)}",
            file=sys.stderr,
        )
    state = "stopped" if summary.cancelled else "done"
    print(
        f"cluster scan {state}: {summary.photos} photos, {summary.scored} scored "
        f"({summary.pairs} sentence scores), {summary.skipped} already in {display_path(ns.results)}, "
        f"{len(summary.failures)} unreadable, {len(summary.files)} results file(s) written, "
        f"{summary.seconds:.1f} s",
        file=sys.stderr,
    )
    return stop.exit_code() if summary.cancelled else EXIT_OK
