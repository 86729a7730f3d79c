"""The headless command line. Never imports Qt: it starts fast and runs on servers.

    blipdesk [--data-dir DIR] tags add NAME [SENTENCE ...] [--threshold P]
    blipdesk [--data-dir DIR] tags list [--json]
    blipdesk [--data-dir DIR] tags remove NAME
    blipdesk [--data-dir DIR] scan FOLDER... [--model M] [--device D] [--precision P]
                                             [--batch-size N] [--no-recursive]
    blipdesk [--data-dir DIR] search SENTENCE FOLDER... [--top K] [--model M] [--json]
    blipdesk [--data-dir DIR] export FOLDER... [--format json|csv] [--output FILE] [--model M]
    blipdesk [--data-dir DIR] xmp FOLDER... [--dry-run] [--remove] [--naming jpg.xmp|xmp]
    blipdesk [--data-dir DIR] explain PHOTO SENTENCE [--output FILE.png] [--words] [--json]
    blipdesk [--data-dir DIR] [FOLDER]          # the desktop app

Which one: the first positional word. A command name selects the command; anything else (or
nothing) opens the app, so ``blipdesk ~/Photos`` works; a word that is neither a command nor an
existing path is a usage error. A folder that happens to be called like a
command is opened with a path spelling (``blipdesk ./scan``).

Exit codes: 0 done (a scan that met unreadable photos still ran: they are listed on stderr),
1 a failure the person can fix (a scan that could not list a folder ran on the rest and kept that
folder's photos as they were) (one line on stderr), 2 bad usage, 130 interrupted (Ctrl-C; work
finished before it stays in the cache), 143 or 129 for SIGTERM or SIGHUP, which stop a scan the
same way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from blipdesk import __version__
from blipdesk.display import display_path
from blipdesk.errors import ModelError, UserError
from blipdesk.export import export_bytes, export_document, tag_json, write_export

if TYPE_CHECKING:  # the store and the engine load only when a command needs them
    from blipdesk.core.engine import ScanOptions, ScanProgress, SearchHit, SearchUpdate
    from blipdesk.core.model import ModelSpec
    from blipdesk.core.scorer import FirstToken, Scorer
    from blipdesk.store import Library, Tag

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
COMMANDS = ("tags", "scan", "search", "export", "xmp", "explain")

log = logging.getLogger(__name__)


class UsageError(UserError):
    """The command line asks for something impossible (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """Chooses between the commands and the app by the first positional word (module docstring)."""

    def parse_args(  # type: ignore[override]  # one signature for typeshed's overloads
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        tokens = list(sys.argv[1:] if args is None else args)
        if not self._wants_command(tokens):
            return _gui_parser().parse_args(tokens, namespace)
        return super().parse_args(tokens, namespace)

    @staticmethod
    def _wants_command(tokens: Sequence[str]) -> bool:
        skip = False
        for token in tokens:
            if skip:
                skip = False
            elif token == "--data-dir":
                skip = True
            elif token in ("-h", "--help", "--version"):
                return True
            elif token == "--" or not token.startswith("-"):
                # Not a command and not a folder (a typo like "sacn"): argparse says so, exit 2.
                return token in COMMANDS or not os.path.exists(token)
        return False


def _add_global(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"blipdesk {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log progress to stderr (-vv: debug); the data folder's blipdesk.log keeps INFO and up",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep all of blipdesk's state (settings, tags, cache, thumbnails) under DIR "
        "(default: $BLIPDESK_DATA_DIR, else the platform's user data folder)",
    )


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blipdesk", description="Open the desktop app.")
    _add_global(parser)
    parser.add_argument("folder", nargs="?", help="open the app on this folder")
    parser.set_defaults(command=None)
    return parser


def _add_model_options(parser: argparse.ArgumentParser, compute: bool) -> None:
    parser.add_argument(
        "--model",
        metavar="ID_OR_DIR",
        help="hub id or local model folder (default: the library's model; a scan with --model "
        "makes it the library's model, used by export, search, xmp and the app)",
    )
    if not compute:
        return
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: settings)")
    parser.add_argument("--precision", help="auto, fp32, bf16 or fp16 (default: settings)")
    parser.add_argument(
        "--batch-size", type=_batch_size, metavar="N", help="photos per batch (1 to 1024)"
    )
    parser.add_argument("--no-recursive", action="store_true", help="do not look into subfolders")
    parser.add_argument(
        "--feature-cache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep each photo's vision output on disk (0.6 MB per photo for the large model) so "
        "new tags and searches skip decoding and the vision pass (default: on)",
    )
    parser.add_argument(
        "--feature-budget",
        type=_size,
        metavar="SIZE",
        help="disk budget of the vision cache, e.g. 20G or 500M; past it the least recently used "
        "photos are evicted first (default: settings, 20G); remembered",
    )
    parser.add_argument(
        "--feature-format",
        choices=("compact", "fp16"),
        help="compact: 8-bit, 0.6 MB per photo, ITM within ~1e-3 of a fresh pass; fp16: exact "
        "half precision, 1.2 MB (default: settings, compact)",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _size(text: str) -> int:
    from blipdesk.core.feature_cache import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _batch_size(text: str) -> int:
    from blipdesk.settings import MAX_BATCH_SIZE

    value = _positive_int(text)
    if value > MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_BATCH_SIZE} (larger batches only run out of memory)"
        )
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="blipdesk",
        usage="blipdesk [--data-dir DIR] {tags,scan,search,export,xmp,explain} ... | blipdesk [FOLDER]",
        description="Tag local photos with sentences, scored by BLIP image-text matching. "
        "Without a command, opens the desktop app (on FOLDER when given).",
    )
    _add_global(parser)
    parser.set_defaults(command=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    tags = sub.add_parser("tags", help="add, list or remove tags")
    tags_sub = tags.add_subparsers(dest="tags_command", metavar="ACTION", required=True)
    add = tags_sub.add_parser("add", help="add a tag (or replace its sentences and threshold)")
    add.add_argument("name")
    add.add_argument("sentences", nargs="*", metavar="SENTENCE", help="default: NAME itself")
    add.add_argument("--threshold", type=_probability, metavar="P", help="default 0.5")
    add.set_defaults(handler=_tags_add)
    lst = tags_sub.add_parser("list", help="list the tags")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_tags_list)
    rm = tags_sub.add_parser("remove", help="remove a tag (its cached scores stay)")
    rm.add_argument("name")
    rm.set_defaults(handler=_tags_remove)

    scan = sub.add_parser("scan", help="score the photos under folders against every tag")
    scan.add_argument("folders", nargs="+", metavar="FOLDER")
    _add_model_options(scan, compute=True)
    scan.set_defaults(handler=_scan)

    search = sub.add_parser("search", help="rank the photos under folders for a sentence")
    search.add_argument("sentence")
    search.add_argument("folders", nargs="+", metavar="FOLDER")
    search.add_argument("--top", type=_positive_int, default=10, metavar="K")
    search.add_argument(
        "--candidates", type=_positive_int, metavar="N", help="ITM-rerank the N best by cosine"
    )
    search.add_argument("--json", action="store_true")
    _add_model_options(search, compute=True)
    search.set_defaults(handler=_search)

    export = sub.add_parser("export", help="write cached tags and scores (never loads the model)")
    export.add_argument("folders", nargs="+", metavar="FOLDER")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--output", metavar="FILE", help="default: standard output")
    export.add_argument("--no-recursive", action="store_true")
    _add_model_options(export, compute=False)
    export.set_defaults(handler=_export)
    _add_xmp_parser(sub)
    from blipdesk.cli_explain import add_parser as add_explain_parser

    add_explain_parser(sub, _add_model_options, _explain)
    from blipdesk.cli_teach import add_parsers as add_teach_parsers

    add_teach_parsers(sub, tags_sub, _add_model_options, _positive_int, _teach)
    return parser


def _teach(ns: argparse.Namespace) -> int:
    from blipdesk.cli_teach import run as run_teach

    return run_teach(ns, _Context(ns), _export_key)


def _explain(ns: argparse.Namespace) -> int:
    from blipdesk.cli_explain import run as run_explain

    return run_explain(ns, _Context(ns))


def run(ns: argparse.Namespace) -> int:
    _setup_logging(ns)
    try:
        code: int = ns.handler(ns)
        return code
    except UsageError as exc:
        print(f"blipdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:
        print(f"blipdesk: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("blipdesk: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (sqlite3.Error, OSError) as exc:
        # The disk is full, the data folder is read-only, a file vanished: the person can fix it.
        # SQLite rolls the transaction in flight back, so the cache stays as it was.
        print(f"blipdesk: {_storage_problem(ns, exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: one line here, the traceback in the log file
        where = _log_traceback(ns)
        print(f"blipdesk: internal error: {exc!r} (details in {where})", file=sys.stderr)
        return EXIT_ERROR


def _storage_problem(ns: argparse.Namespace, exc: BaseException) -> str:
    from blipdesk.paths import resolve_paths

    where = resolve_paths(ns.data_dir).data_dir
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    lowered = str(exc).lower()
    if "full" in lowered or getattr(exc, "errno", None) == 28:
        hint = "free some disk space or choose another --data-dir; finished work stays cached"
    elif "readonly" in lowered or "read-only" in lowered or getattr(exc, "errno", None) in (13, 30):
        hint = "blipdesk needs to write there; choose another --data-dir"
    else:
        hint = "nothing was changed by the step that failed"
    filename = getattr(exc, "filename", None)
    subject = display_path(filename) if filename else f"the data folder {display_path(where)}"
    return f"cannot use {subject}: {text} ({hint})."


def _setup_logging(ns: argparse.Namespace) -> None:
    from blipdesk.logs import setup_logging, verbosity_level
    from blipdesk.paths import resolve_paths

    verbose = getattr(ns, "verbose", 0) or 0
    setup_logging(
        resolve_paths(getattr(ns, "data_dir", None)).log_file,
        stderr_level=verbosity_level(verbose),
        verbose=verbose > 0,
    )


def _log_traceback(ns: argparse.Namespace) -> str:
    """Log the exception being handled; say where its traceback went."""
    from blipdesk.logs import FILE_ONLY, log_file_written
    from blipdesk.paths import resolve_paths

    with contextlib.suppress(OSError):  # the log file goes in the data folder, if it can be made
        resolve_paths(getattr(ns, "data_dir", None)).ensure()
    log.exception("internal error in blipdesk %s", ns.command, extra={FILE_ONLY: True})
    written = log_file_written()
    if written is not None:
        return str(written)
    if not getattr(ns, "verbose", 0):  # no log file and nothing on stderr yet
        traceback.print_exc()
    return "the traceback above"


# ----------------------------------------------------------------------------------- context


class _Context:
    """Paths, settings and the writer connection for one command."""

    def __init__(self, ns: argparse.Namespace) -> None:
        from blipdesk.paths import resolve_paths
        from blipdesk.settings import SettingsFile

        self.ns = ns
        self.paths = resolve_paths(ns.data_dir).ensure()
        self.settings_file = SettingsFile(self.paths.settings_file)
        self.settings = self.settings_file.load()
        if self.settings_file.problem:
            print(f"blipdesk: {self.settings_file.problem}", file=sys.stderr)

    def library(self, readonly: bool = False) -> Library:
        """The cache; ``readonly`` for commands that only read it (they work on a read-only
        data folder, see store.schema.read_only_place)."""
        from blipdesk.store import Library

        return Library.open(self.paths.database, readonly=readonly)

    def spec(self) -> ModelSpec:
        from blipdesk.core.model import ModelSpec

        if getattr(self.ns, "model", None):  # commands without --model use the library's
            return ModelSpec(self.ns.model)
        return ModelSpec(self.settings.model, self.settings.model_revision)

    def remember_model(self) -> None:
        """A scan with ``--model`` makes that model the library's model (like choosing it in the
        app's Settings), so later ``export``, ``search`` and ``xmp`` read the same scores."""
        if not self.ns.model:
            return
        from blipdesk.core.model import source_key

        spec = self.spec()
        source = source_key(spec.source)
        if source != self.settings.model:
            self.settings = self.settings.with_changes(model=source, model_revision=None)
            self.settings_file.save(self.settings)
            print(f"blipdesk: the library's model is now {display_path(source)}", file=sys.stderr)

    def options(self) -> ScanOptions:
        from blipdesk.core.engine import ScanOptions

        feature_cache = self.ns.feature_cache
        return ScanOptions(
            batch_size=self.ns.batch_size or self.settings.batch_size,
            recursive=not self.ns.no_recursive and self.settings.recursive,
            feature_cache=self.settings.feature_cache if feature_cache is None else feature_cache,
            features_dir=self.paths.features_dir,
            feature_format=self.ns.feature_format or self.settings.feature_format,
            feature_budget=self.settings.feature_budget,
        )

    def remember_feature_budget(self) -> None:
        """``--feature-budget`` is a property of the data folder, like Settings' field: kept."""
        budget = getattr(self.ns, "feature_budget", None)
        if budget is not None and budget != self.settings.feature_budget:
            self.settings = self.settings.with_changes(feature_budget=budget)
            self.settings_file.save(self.settings)

    def scorer(self) -> Callable[[], Scorer]:
        from blipdesk.core.engine import lazy_scorer

        # Settings accept only these two (settings._valid).
        first_token: FirstToken = "enc" if self.settings.first_token == "enc" else "cls"
        return lazy_scorer(
            self.spec(),
            self.ns.device or self.settings.device,
            self.ns.precision or self.settings.precision,
            first_token,
        )


def _folders(names: Sequence[str]) -> list[str]:
    out = []
    for name in names:
        path = Path(name).expanduser()
        if not path.is_dir():
            raise UsageError(f"{display_path(name)} is not a folder.")
        out.append(str(path.resolve()))
    return out


# ----------------------------------------------------------------------------------- tags


def _tags_add(ns: argparse.Namespace) -> int:
    from blipdesk.store import DEFAULT_THRESHOLD, Tag

    ctx = _Context(ns)
    with ctx.library() as library:
        old = library.tag(ns.name)
        threshold = ns.threshold
        if threshold is None:
            threshold = old.threshold if old else DEFAULT_THRESHOLD
        sentences = tuple(
            dict.fromkeys(ns.sentences or [ns.name])
        )  # a repeated sentence counts once
        tag = Tag(ns.name, sentences, threshold, old.colour if old else None)
        library.put_tag(tag)
    verb = "updated" if old else "added"
    print(f"{verb} tag {tag.name!r}: {len(tag.sentences)} sentence(s), threshold {threshold:g}")
    _warn_long_sentences(ctx, tag.sentences)
    return EXIT_OK


def _warn_long_sentences(ctx: _Context, sentences: Sequence[str]) -> list[str]:
    """Tell the person about sentences the model will cut; returns them.

    A BERT WordPiece token covers at least one character, so a sentence of at most 510
    characters always fits: only longer ones load the tokenizer (never the weights, never the
    network) to count exactly; without it the warning says "may"."""
    from blipdesk.core.engine import shorten
    from blipdesk.core.model import MAX_TEXT_TOKENS

    long = [s for s in dict.fromkeys(sentences) if len(s) + 2 > MAX_TEXT_TOKENS]
    if not long:
        return []
    counts = _token_counts(ctx, long)
    cut = []
    for s in long:
        n = counts.get(s)
        if n is None:
            print(
                f"blipdesk: warning: the sentence {shorten(s)} may be longer than the model "
                f"reads ({MAX_TEXT_TOKENS} tokens); anything past that is ignored",
                file=sys.stderr,
            )
            cut.append(s)
        elif n > MAX_TEXT_TOKENS:
            print(
                f"blipdesk: warning: the sentence {shorten(s)} is {n} tokens long; the model reads "
                f"only the first {MAX_TEXT_TOKENS}, the rest is ignored",
                file=sys.stderr,
            )
            cut.append(s)
    return cut


def _token_counts(ctx: _Context, sentences: Sequence[str]) -> dict[str, int]:
    try:
        spec = ctx.spec()
        if spec.is_local:
            folder = Path(spec.source).expanduser()
        else:
            from huggingface_hub import snapshot_download

            folder = Path(
                snapshot_download(
                    spec.source,
                    revision=spec.revision,
                    allow_patterns=["*.json", "*.txt"],
                    local_files_only=True,
                )
            )
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder)
        return {s: len(tokenizer(s)["input_ids"]) for s in sentences}
    except Exception as exc:  # no tokenizer on this machine: the caller says "may"
        log.debug("cannot count tokens: %s", exc)
        return {}


def _tags_list(ns: argparse.Namespace) -> int:
    ctx = _Context(ns)
    with ctx.library(readonly=True) as library:
        tags = library.tags()
    if ns.json:
        print(json.dumps([tag_json(t) for t in tags], indent=2, ensure_ascii=False))
        return EXIT_OK
    for tag in tags:
        print(f"{tag.name}\t{tag.threshold:g}\t" + " | ".join(tag.sentences))
    return EXIT_OK


def _tags_remove(ns: argparse.Namespace) -> int:
    ctx = _Context(ns)
    with ctx.library() as library:
        if not library.remove_tag(ns.name):
            raise UserError(f"There is no tag called {ns.name!r}.")
    print(f"removed tag {ns.name!r}")
    return EXIT_OK


# ----------------------------------------------------------------------------------- scan


class _ProgressPrinter:
    """A tqdm bar on a terminal; plain lines (at most one every 2 s) otherwise."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar: Any = None
        self.last = 0.0
        self.tty = sys.stderr is not None and sys.stderr.isatty()

    def __call__(self, p: ScanProgress) -> None:
        if self.tty:
            if self.bar is None or self.bar.total != p.total:  # search runs two phases
                from tqdm import tqdm

                self.close()
                self.bar = tqdm(total=p.total, unit="photo", desc=self.what, file=sys.stderr)
            self.bar.update(p.done - self.bar.n)
            self.bar.set_postfix(errors=p.errors, refresh=False)
            return
        now = time.monotonic()
        if now - self.last < 2.0 and p.done < p.total:
            return
        self.last = now
        eta = (
            "?" if p.eta_seconds is None else time.strftime("%H:%M:%S", time.gmtime(p.eta_seconds))
        )
        print(
            f"{self.what}: {p.done}/{p.total} photos, {p.photos_per_second:.1f} photos/s, "
            f"ETA {eta}, {p.errors} error(s)",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _StopOnCtrlC:
    """The first Ctrl-C, SIGTERM or SIGHUP asks the work to stop after the step in flight (a
    scan's batch, a sidecar: what finished stays; exit 128 + the signal's number, 130 for
    Ctrl-C); a second one stops now. A signal never kills the process mid-write."""

    def __init__(
        self,
        step: str = "the current batch",
        signals: Sequence[str] = ("SIGINT", "SIGTERM", "SIGHUP"),
    ) -> None:
        self.cancel = threading.Event()
        self.step = step
        self.signals = [getattr(signal, s) for s in signals if hasattr(signal, s)]
        self.previous: dict[int, Any] = {}
        self.signum: int | None = None

    def __enter__(self) -> threading.Event:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self.cancel

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.cancel.is_set():
            raise KeyboardInterrupt
        self.signum = signum
        self.cancel.set()
        how = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(
            f"\nblipdesk: stopping after {self.step} ({how}; Ctrl-C again to stop now)",
            file=sys.stderr,
        )

    def exit_code(self) -> int:
        return EXIT_INTERRUPTED if self.signum in (None, signal.SIGINT) else 128 + self.signum

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)


def _scan(ns: argparse.Namespace) -> int:
    from blipdesk.core.engine import model_key, scan

    ctx = _Context(ns)
    folders = _folders(ns.folders)
    key = model_key(ctx.spec(), ctx.settings.first_token)
    progress = _ProgressPrinter("scan")
    stop = _StopOnCtrlC()
    with ctx.library() as library, stop as cancel:
        ctx.remember_model()  # only once the cache opened: a refused scan changes no setting
        ctx.remember_feature_budget()
        sentences = library.all_sentences()
        if not sentences:
            print(
                "blipdesk: no tags yet; storing image features only (for search)", file=sys.stderr
            )
        try:
            summary = scan(
                library,
                folders,
                sentences,
                key,
                ctx.scorer(),
                ctx.options(),
                progress,
                None,
                cancel,
            )
        finally:
            progress.close()
    for failure in summary.failures:
        print(
            f"blipdesk: unreadable: {display_path(failure.path)}: {failure.reason}",
            file=sys.stderr,
        )
    for failure in summary.unreadable_folders:
        print(
            f"blipdesk: unreadable folder: {display_path(failure.path)}: {failure.reason}",
            file=sys.stderr,
        )
    for notice in summary.notices:
        print(f"blipdesk: {notice}", file=sys.stderr)
    state = "stopped" if summary.cancelled else "done"
    print(
        f"scan {state}: {summary.photos} photos, {summary.scored} scored"
        + (f" ({summary.from_cache} from the vision cache)" if summary.from_cache else "")
        + ", "
        f"{len(summary.failures)} unreadable, {summary.seconds:.1f} s"
        + (
            f", {len(summary.unreadable_folders)} folder(s) not read"
            if summary.unreadable_folders
            else ""
        )
        + ("" if summary.model_loaded else " (all cached; model not loaded)"),
        file=sys.stderr,
    )
    if summary.cancelled:
        return stop.exit_code()
    return EXIT_ERROR if summary.unreadable_folders else EXIT_OK


def _search(ns: argparse.Namespace) -> int:
    """Prints the cosine ranking at once on a terminal, then the ITM-refined one at the end
    (``--json``: only the refined one). Never scans: photos not scanned yet are counted."""
    from blipdesk.core.engine import model_key, search

    ctx = _Context(ns)
    folders = _folders(ns.folders)
    key = model_key(ctx.spec(), ctx.settings.first_token)
    tty = sys.stdout is not None and sys.stdout.isatty() and not ns.json
    shown = [False]

    def on_update(update: SearchUpdate) -> None:
        if tty and not shown[0] and not update.done:
            shown[0] = True
            print(f"by similarity (cosine), refining the best {update.candidates} by match:")
            _print_hits(update.hits)
            print(flush=True)

    from blipdesk.store.schema import read_only_place

    # On a read-only data folder, search still answers from the cache (nothing is stored).
    readonly = read_only_place(ctx.paths.database)
    stop = _StopOnCtrlC("the current step")
    with ctx.library(readonly=readonly) as library, stop as cancel:
        if not readonly:
            ctx.remember_feature_budget()
        final = search(
            library, folders, ns.sentence, key, ctx.scorer(), ns.top, ns.candidates,
            ctx.options(), on_update, cancel,
        )  # fmt: skip
    if final.unscanned:
        print(
            f"blipdesk: {final.unscanned} photo(s) under {', '.join(map(display_path, folders))} are not scanned "
            "yet and were not searched; run `blipdesk scan` to include them",
            file=sys.stderr,
        )
    if cancel.is_set():
        return stop.exit_code()
    if ns.json:
        results = [{"path": h.path, "itm": h.itm, "cosine": h.cosine} for h in final.hits]
        doc = {
            "model": key.source,
            "sentence": ns.sentence,
            "results": results,
            "ranked": final.ranked,
            "unscanned": final.unscanned,
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        if shown[0]:
            print(f"refined: {final.refined} best checked by match (ITM), best first:")
        _print_hits(final.hits)
    return EXIT_OK


def _print_hits(hits: Iterable[SearchHit]) -> None:
    print("rank\titm\tcosine\tpath")
    for rank, h in enumerate(hits, 1):
        itm = "-" if h.itm is None else f"{h.itm:.4f}"
        print(f"{rank}\t{itm}\t{h.cosine:.4f}\t{display_path(h.path)}")


# ----------------------------------------------------------------------------------- export


def _export_key(ctx: _Context, library: Library) -> tuple[str, str]:
    """(score key, model name) without loading the model; falls back to the cache's own record of
    the model when its files are not on this machine."""
    from blipdesk.core.engine import model_key
    from blipdesk.core.model import source_key

    spec = ctx.spec()
    try:
        key = model_key(spec, ctx.settings.first_token)
        return key.score_key, key.source
    except ModelError:
        source = source_key(spec.source)
        found = library.latest_score_key(source)
        if found is None:
            raise
        return found, source


def _export(ns: argparse.Namespace) -> int:
    ctx = _Context(ns)
    folders = _folders(ns.folders)
    with ctx.library(readonly=True) as library:
        score_key, model = _export_key(ctx, library)
        doc = export_document(library, score_key, model, folders, not ns.no_recursive)
    _warn_long_sentences(ctx, [s for t in doc["tags"] for s in t["sentences"]])
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


# ----------------------------------------------------------------------------------- xmp


def _add_xmp_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    xmp = sub.add_parser(
        "xmp",
        help="write the matched tags to XMP sidecars for digiKam, darktable, Lightroom",
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
    _add_model_options(xmp, compute=False)
    xmp.set_defaults(handler=_xmp)


def _xmp(ns: argparse.Namespace) -> int:
    """Per sidecar: a bad one is listed on stderr and the others are done (exit 1). Ctrl-C,
    SIGTERM and SIGHUP stop after the sidecar in flight (exit 130); a temporary file that a
    ``kill -9`` left is removed by the next run."""
    from blipdesk import sidecars

    ctx = _Context(ns)
    folders = _folders(ns.folders)
    recursive = not ns.no_recursive
    refused: list[str] = []
    if ns.remove:
        plans = sidecars.plan_removal_under(folders, recursive)
    else:
        with ctx.library() as library:
            score_key, _model = _export_key(ctx, library)
            results = library.photo_results(score_key, folders, recursive)
            refused = _unwritable_tags(library.tags())
        matched = {
            r.path: [name for name, ts in r.tags.items() if ts.match and name not in refused]
            for r in results
            if r.error is None  # unscored or unreadable: its sidecar is left alone
        }
        plans = sidecars.plan_sidecars(matched, ns.naming)
    stop = _StopOnCtrlC("the sidecar in flight", ("SIGINT", "SIGTERM", "SIGHUP"))
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
        print(f"blipdesk: {error}", file=sys.stderr)
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
    from blipdesk import sidecars

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
