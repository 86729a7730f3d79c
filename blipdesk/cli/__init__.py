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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from blipdesk import __version__
from blipdesk.cli import results as cli_results
from blipdesk.cli.args import (
    CommandParser,
    add_command,
    add_common_options,
    add_model_options,
    positive_int,
    probability,
    subcommands,
)
from blipdesk.cli.progress import ProgressPrinter
from blipdesk.infra.display import display_path
from blipdesk.infra.errors import ModelError, UserError
from blipdesk.services.export import export_bytes, export_document, tag_json, write_export
from blipdesk.services.wording import calibrated_note, calibration_json

if TYPE_CHECKING:  # the store and the engine load only when a command needs them
    from blipdesk.core.engine import ScanOptions, ScanSummary, SearchHit, SearchUpdate
    from blipdesk.core.model import ModelSpec
    from blipdesk.core.scorer import FirstToken, Scorer
    from blipdesk.store import Calibration, Library, Tag

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
COMMANDS = ("tags", "scan", "search", "export", "xmp", "explain", "results", "cluster")

log = logging.getLogger(__name__)


class UsageError(UserError):
    """The command line asks for something impossible (exit code 2)."""


class _Parser(CommandParser):
    """Chooses between the commands and the app by the first positional word (module docstring)."""

    def parse_args(  # type: ignore[override]  # one signature for typeshed's overloads
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        tokens = list(sys.argv[1:] if args is None else args)
        if not self._wants_command(tokens):
            return _gui_parser().parse_args(tokens, namespace)
        ns, extras = self.parse_known_args(tokens, namespace)
        if extras:  # said by the command's own parser, with its own usage
            command_parser(self, ns).error(f"unrecognized arguments: {' '.join(extras)}")
        return ns

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


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blipdesk", description="Open the desktop app.")
    _add_version(parser)
    add_common_options(parser, top_level=True)
    parser.add_argument("folder", nargs="?", help="open the app on this folder")
    parser.set_defaults(command=None)
    return parser


def command_parser(
    parser: argparse.ArgumentParser, ns: argparse.Namespace
) -> argparse.ArgumentParser:
    """The parser of the (sub)command that ``ns`` names (``blipdesk tags add``'s for
    ``tags add``); ``parser`` itself when it names none."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(ns, action.dest, None)
            if name in action.choices:
                return command_parser(action.choices[name], ns)
    return parser


def _add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"blipdesk {__version__}")


# The parts every command module shares live in cli_args.py and cli_progress.py; the old private
# names stay for command modules written against them (cli_teach.py, cli_results.py).
_add_model_options = add_model_options
_positive_int = positive_int
_probability = probability
_ProgressPrinter = ProgressPrinter


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="blipdesk",
        usage="blipdesk [--data-dir DIR] COMMAND ... | blipdesk [--data-dir DIR] [FOLDER]",
        description="Tag local photos with sentences, scored by BLIP image-text matching. "
        "Without a command, opens the desktop app (on FOLDER when given).",
        epilog="Each command has its own help: blipdesk COMMAND --help. --data-dir and -v go "
        "before or after the command.",
    )
    _add_version(parser)
    add_common_options(parser, top_level=True)
    parser.set_defaults(command=None)
    sub = subcommands(parser, "command", metavar="COMMAND")

    tags = add_command(sub, "tags", "add, list or remove tags")
    tags_sub = subcommands(tags, "tags_command", required=True)
    add = add_command(tags_sub, "add", "add a tag (or replace its sentences and threshold)")
    add.add_argument("name", metavar="NAME", help="the tag's name (also its sentence by default)")
    add.add_argument("sentences", nargs="*", metavar="SENTENCE", help="default: NAME itself")
    add.add_argument(
        "--threshold",
        type=probability,
        metavar="P",
        help="match probability (0 to 1) from which a photo carries the tag (default 0.5)",
    )
    add.set_defaults(handler=_tags_add)
    lst = add_command(tags_sub, "list", "list the tags")
    lst.add_argument("--json", action="store_true", help="print the tags as a JSON list")
    lst.set_defaults(handler=_tags_list)
    rm = add_command(tags_sub, "remove", "remove a tag (its cached scores stay)")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=_tags_remove)

    scan = add_command(sub, "scan", "score the photos under folders against every tag")
    scan.add_argument("folders", nargs="+", metavar="FOLDER")
    add_model_options(scan, compute=True)
    cli_results.add_scan_options(scan)
    scan.set_defaults(handler=_scan)

    search = add_command(sub, "search", "rank the photos under folders for a sentence")
    search.add_argument("sentence", metavar="SENTENCE")
    search.add_argument("folders", nargs="+", metavar="FOLDER")
    search.add_argument(
        "--top", type=positive_int, default=10, metavar="K", help="show the K best (default 10)"
    )
    search.add_argument(
        "--candidates", type=positive_int, metavar="N", help="ITM-rerank the N best by cosine"
    )
    search.add_argument(
        "--json", action="store_true", help="print the refined ranking as JSON (nothing else)"
    )
    add_model_options(search, compute=True)
    search.set_defaults(handler=_search)

    export = add_command(sub, "export", "write cached tags and scores (never loads the model)")
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
    export.set_defaults(handler=_export)
    _add_xmp_parser(sub)
    from blipdesk.cli.explain import add_parser as add_explain_parser

    add_explain_parser(sub, add_model_options, _explain)
    cli_results.add_parsers(sub, add_model_options, lambda ns: cli_results.run(ns, _Context(ns)))
    from blipdesk.cli.teach import add_parsers as add_teach_parsers

    add_teach_parsers(sub, tags_sub, add_model_options, positive_int, _teach)
    return parser


def _teach(ns: argparse.Namespace) -> int:
    from blipdesk.cli.teach import run as run_teach

    return run_teach(ns, _Context(ns), _export_key)


def command_names(parser: argparse.ArgumentParser) -> list[str]:
    """The commands ``parser`` (from ``build_parser``) knows, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def _explain(ns: argparse.Namespace) -> int:
    from blipdesk.cli.explain import run as run_explain

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
    from blipdesk.infra.paths import resolve_paths

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
    from blipdesk.infra.logs import setup_logging, verbosity_level
    from blipdesk.infra.paths import resolve_paths

    verbose = getattr(ns, "verbose", 0) or 0
    setup_logging(
        resolve_paths(getattr(ns, "data_dir", None)).log_file,
        stderr_level=verbosity_level(verbose),
        verbose=verbose > 0,
    )


def _log_traceback(ns: argparse.Namespace) -> str:
    """Log the exception being handled; say where its traceback went."""
    from blipdesk.infra.logs import FILE_ONLY, log_file_written
    from blipdesk.infra.paths import resolve_paths

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
        from blipdesk.infra.paths import resolve_paths
        from blipdesk.services.settings import SettingsFile

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
            batch_size=(
                self.settings.batch_size if self.ns.batch_size is None else self.ns.batch_size
            ),  # --batch-size 0: automatic, whatever the settings say
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

    def device(self) -> tuple[str, str]:
        """(device, precision): the command line's, else the settings'."""
        return (
            getattr(self.ns, "device", None) or self.settings.device,
            getattr(self.ns, "precision", None) or self.settings.precision,
        )

    def check_device(self) -> None:
        """Refuse a device or precision this machine lacks now, not after listing and hashing
        every photo (imports torch: only for a choice given on the command line)."""
        device, precision = getattr(self.ns, "device", None), getattr(self.ns, "precision", None)
        if device in (None, "auto", "cpu") and precision in (None, "auto"):
            return
        from blipdesk.core.device import resolve_placement

        resolve_placement(*self.device())

    def scorer(self, progress: ProgressPrinter | None = None) -> Callable[[], Scorer]:
        """The model, loaded on first call, saying so on stderr first (it takes 10-60 s): which
        model, where and in what precision; fp16 on the CPU is warned about (it is slower than
        fp32 there)."""
        from blipdesk.core.engine import lazy_scorer

        # Settings accept only these two (settings._valid).
        first_token: FirstToken = "enc" if self.settings.first_token == "enc" else "cls"
        spec = self.spec()
        device, precision = self.device()
        inner = lazy_scorer(spec, device, precision, first_token)
        announced: list[bool] = []

        def get() -> Scorer:
            if not announced:
                announced.append(True)
                _announce_load(spec.source, device, precision, progress)
                started = time.monotonic()
                scorer = inner()
                print(
                    f"blipdesk: model loaded in {time.monotonic() - started:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                if progress is not None:
                    progress.note("scoring")
                return scorer
            return inner()

        get.device_type = inner.device_type  # type: ignore[attr-defined]  # see run_work
        return get


def _announce_load(
    source: str, device: str, precision: str, progress: ProgressPrinter | None
) -> None:
    from blipdesk.core.device import resolve_placement

    placement = resolve_placement(device, precision)
    if placement.device.type == "cpu" and placement.precision == "fp16":
        print(
            "blipdesk: warning: fp16 on the CPU is slower than fp32 and needs more memory "
            "(CPUs do not compute in fp16); --precision auto or fp32 is faster",
            file=sys.stderr,
        )
    # "cpu, fp32"; "cuda:0 (NVIDIA H100), fp16" -> "cuda:0 NVIDIA H100, fp16" inside parentheses
    where = placement.describe().replace(" (", " ", 1).replace("), ", ", ", 1)
    print(
        f"blipdesk: loading the model {display_path(source)} ({where})…",
        file=sys.stderr,
        flush=True,
    )
    if progress is not None:
        progress.note("loading the model")


_PLACEHOLDERS = ("NAME",)  # words of a hint the person replaces: never quoted


def _command(ns: argparse.Namespace, *words: str) -> str:
    """The command to type, ready to paste (``--data-dir`` kept when the person gave one)."""
    data_dir = getattr(ns, "data_dir", None)
    head = ["blipdesk", *(["--data-dir", data_dir] if data_dir else [])]
    quoted = [w if w in _PLACEHOLDERS else _shell_word(w) for w in words]
    return " ".join([*map(_shell_word, head), *quoted])


def _shell_word(word: str) -> str:
    """``word`` quoted for a POSIX shell, on one line: a name with a line break, a terminal
    escape or bytes that are not UTF-8 is spelled byte by byte as bash's ``$'...'``."""
    import shlex

    if word.isprintable():
        return shlex.quote(word)
    spelled = "".join(
        chr(b) if 32 <= b < 127 and chr(b) not in "\\'" else f"\\x{b:02x}"
        for b in os.fsencode(word)
    )
    return f"$'{spelled}'"


def _scan_command(ns: argparse.Namespace, folders: Sequence[str]) -> str:
    model = getattr(ns, "model", None)
    return _command(ns, "scan", *folders, *(["--model", model] if model else []))


def _what_is_missing(
    ns: argparse.Namespace,
    folders: Sequence[str],
    recursive: bool,
    photos: Sequence[tuple[str, bool, Mapping[str, Iterable[str]]]],
    tags: Mapping[str, Sequence[str]],
    what: str,
) -> None:
    """Say on stderr what ``export``/``xmp`` left out because it is not scanned yet, and the
    command that scans it. ``photos``: (path, readable, {tag: its scored sentences}) from the
    cache; ``tags``: {tag: its sentences}."""
    from blipdesk.core.files import find_photos

    scan_cmd = _scan_command(ns, folders)
    known = {path for path, _, _ in photos}
    unscanned = sum(1 for p in find_photos(folders, recursive) if p not in known)
    where = ", ".join(map(display_path, folders))
    if not tags:
        print(
            f"blipdesk: there are no tags yet, so no photo carries one; add one with: "
            f"{_command(ns, 'tags', 'add', 'NAME')}, then: {scan_cmd}",
            file=sys.stderr,
        )
    if unscanned:
        print(
            f"blipdesk: {unscanned} photo{'' if unscanned == 1 else 's'} under {where} "
            f"{'is' if unscanned == 1 else 'are'} not scanned yet and not in {what}; "
            f"to scan: {scan_cmd}",
            file=sys.stderr,
        )
    readable = [got for _, ok, got in photos if ok]
    missing = {
        name: n
        for name, sentences in tags.items()
        if (n := sum(1 for got in readable if not set(sentences) <= set(got.get(name, ()))))
    }
    if missing:
        listing = ", ".join(
            f"{name!r} on {n} of {len(readable)} photo{'' if len(readable) == 1 else 's'}"
            for name, n in missing.items()
        )
        print(
            f"blipdesk: tags not scored yet (added or changed since the last scan), missing from "
            f"{what}: {listing}; to score them: {scan_cmd}",
            file=sys.stderr,
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
        cals = _calibrations(ctx, library) if tags else {}
    if ns.json:
        doc = [{**tag_json(t), "calibration": calibration_json(cals.get(t.name))} for t in tags]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not tags:
        print(
            f"blipdesk: no tags yet; add one with: {_command(ns, 'tags', 'add', 'NAME')} "
            "[SENTENCE ...] (a tag is a sentence, like 'a dog on a beach')",
            file=sys.stderr,
        )
    for tag in tags:
        cal = cals.get(tag.name)  # a calibrated tag's threshold is not used: say so, and what is
        rule = f"{tag.threshold:g}"
        rule += f" ({calibrated_note(cal, tag.threshold)})" if cal is not None else ""
        print(f"{tag.name}\t{rule}\t" + " | ".join(tag.sentences))
    return EXIT_OK


def _calibrations(ctx: _Context, library: Library) -> dict[str, Calibration]:
    """The tags' calibrations for the configured model (none when nothing is scanned with it);
    the model is not loaded: the cache's record of it when its files are not here."""
    from blipdesk.core.engine import model_key
    from blipdesk.core.model import source_key

    spec = ctx.spec()
    try:
        key: str | None = model_key(spec, ctx.settings.first_token).score_key
    except ModelError:
        key = library.latest_score_key(source_key(spec.source))
    return {} if key is None else library.calibrations(key)


def _tags_remove(ns: argparse.Namespace) -> int:
    ctx = _Context(ns)
    with ctx.library() as library:
        if not library.remove_tag(ns.name):
            raise UserError(f"There is no tag called {ns.name!r}.")
    print(f"removed tag {ns.name!r}")
    return EXIT_OK


# ----------------------------------------------------------------------------------- scan


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
    ctx.check_device()
    key = model_key(ctx.spec(), ctx.settings.first_token)
    options = cli_results.scan_options(ns, ctx.options())
    stop = _StopOnCtrlC()
    with ctx.library() as library, stop as cancel, ProgressPrinter("scan") as progress:
        ctx.remember_model()  # only once the cache opened: a refused scan changes no setting
        ctx.remember_feature_budget()
        sentences = library.all_sentences()
        if not sentences:
            print(
                "blipdesk: no tags yet; storing image features only (for search). Add a tag "
                f"with: {_command(ns, 'tags', 'add', 'NAME')}",
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
        cli_results.write_scan_results(ns, ctx, library, key, folders, options)
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
    print(_scan_summary(summary), file=sys.stderr, flush=True)
    if summary.cancelled:
        return stop.exit_code()
    return EXIT_ERROR if summary.unreadable_folders else EXIT_OK


def _scan_summary(summary: ScanSummary) -> str:
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
            f"blipdesk: {final.unscanned} photo(s) under {', '.join(map(display_path, folders))} "
            f"are not scanned yet and were not searched; to include them: "
            f"{_scan_command(ns, folders)}",
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
    except ModelError as exc:
        source = source_key(spec.source)
        found = library.latest_score_key(source)
        if found is None:  # nothing to read, and no model to get it with: say both
            ns = ctx.ns
            raise UserError(
                f"Nothing is scanned with {display_path(source)} yet, so there is nothing to "
                f"{ns.command}; scan first ({_scan_command(ns, ns.folders)}), which needs the "
                f"model: {str(exc)[:1].lower()}{str(exc)[1:]}"
            ) from None
        return found, source


def _export(ns: argparse.Namespace) -> int:
    ctx = _Context(ns)
    folders = _folders(ns.folders)
    with ctx.library(readonly=True) as library:
        score_key, model = _export_key(ctx, library)
        doc = export_document(library, score_key, model, folders, not ns.no_recursive)
    _warn_long_sentences(ctx, [s for t in doc["tags"] for s in t["sentences"]])
    _what_is_missing(
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


# ----------------------------------------------------------------------------------- xmp


def _add_xmp_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    xmp = add_command(
        sub,
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
    _add_model_options(xmp, compute=False)
    xmp.set_defaults(handler=_xmp)


def _xmp(ns: argparse.Namespace) -> int:
    """Per sidecar: a bad one is listed on stderr and the others are done (exit 1). Ctrl-C,
    SIGTERM and SIGHUP stop after the sidecar in flight (exit 130); a temporary file that a
    ``kill -9`` left is removed by the next run."""
    from blipdesk.services import sidecars

    ctx = _Context(ns)
    folders = _folders(ns.folders)
    recursive = not ns.no_recursive
    refused: list[str] = []
    if ns.remove:
        plans = sidecars.plan_removal_under(folders, recursive)
    else:
        with ctx.library() as library:
            score_key, _model = _export_key(ctx, library)
            tags = library.tags()
            results = library.photo_results(score_key, folders, recursive, tags)
            refused = _unwritable_tags(tags)
        _what_is_missing(
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
