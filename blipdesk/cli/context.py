"""What every command shares: the ``Context`` a command gets (paths, settings, the cache, the
model), its errors and exit codes, Ctrl-C handling, the folders it was given, and the hints it
prints (a command ready to paste, what an export left out, sentences the model cuts).

Every module in ``cli/commands`` registers itself the same way: ``register(commands)`` adds its
parser(s) to ``commands`` (``args.subcommands``) and sets each one's ``handler``, a ``Handler``:
``handler(ns, ctx)`` does the work and returns the exit code (``cli.Command`` spells the protocol
out for mypy). ``cli.run`` builds the ``Context`` and turns what a handler raises into one line on
stderr and an exit code.

Exit codes: 0 done, 1 a failure the person can fix, 2 bad usage, 130 interrupted (Ctrl-C),
128 + the signal's number for SIGTERM or SIGHUP.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from blipdesk.infra.display import display_path
from blipdesk.infra.errors import ModelError, UserError

if TYPE_CHECKING:  # the store and the engine load only when a command needs them
    from blipdesk.core.engine import ModelKey, ScanOptions
    from blipdesk.core.model import ModelSpec
    from blipdesk.core.scorer import Scorer
    from blipdesk.services.options import ModelChoice
    from blipdesk.services.outputs import OutputGuard
    from blipdesk.store import Library

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

log = logging.getLogger(__name__)


class UsageError(UserError):
    """The command line asks for something impossible (exit code 2)."""


class Phases(Protocol):
    """What says which phase a long command is in (``progress.ProgressPrinter``)."""

    def note(self, phase: str) -> None: ...


Handler = Callable[[argparse.Namespace, "Context"], int]  # a command's work -> its exit code


class Context:
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

    def model(self) -> ModelChoice:
        """The settings' model, device and precision, with the command line's ``--model``,
        ``--device`` and ``--precision`` (commands without them use the library's)."""
        from blipdesk.services.options import model_choice

        ns = self.ns
        return model_choice(
            self.settings,
            getattr(ns, "model", None),
            getattr(ns, "device", None),
            getattr(ns, "precision", None),
        )

    def spec(self) -> ModelSpec:
        return self.model().spec

    def write_key(self) -> ModelKey:
        """The keys a scan writes under (services.options.write_key: finds the model's files,
        downloading them when allowed; ``ModelError`` when that fails)."""
        from blipdesk.services.options import write_key

        return write_key(self.model())

    def read_key(self, library: Library) -> tuple[str, str]:
        """(score key, model source) that the cache is read under, without loading the model
        (services.options.read_key: the one scans write). Where neither the model's files nor
        the cache know it: a ``UserError`` that says to scan first, and why that needs the
        model."""
        from blipdesk.core.model import source_key
        from blipdesk.services.options import read_key

        choice = self.model()
        source = source_key(choice.source)
        found = read_key(library, choice)
        if found is not None:
            return found, source
        try:  # the model is not on this machine: the scans' key, fetching the model to know it
            return self.write_key().score_key, source
        except ModelError as exc:  # nothing to read, and no model to get it with: say both
            ns = self.ns
            folders = getattr(ns, "folders", None) or ["FOLDER"]
            raise UserError(
                f"Nothing is scanned with {display_path(source)} yet, so there are no scores to "
                f"read; scan first ({scan_command(ns, folders)}), which needs the model: "
                f"{str(exc)[:1].lower()}{str(exc)[1:]}"
            ) from None

    def output_guard(
        self, folders: Sequence[str] = (), library: Library | None = None, *reads: str
    ) -> OutputGuard:
        """What a ``--output`` or ``--results`` of this command must never replace
        (``services.outputs``): the data folder, the model's files, the photos under
        ``folders`` and those the cache knows, sidecars, and ``reads`` (the command's inputs)."""
        from blipdesk.core.hub import model_folder
        from blipdesk.services.outputs import OutputGuard

        spec = self.spec()
        return OutputGuard(
            data_dir=self.paths.data_dir,
            folders=tuple(folders),
            model_dir=model_folder(spec.source, spec.is_local),
            known=library,
            extra=reads,
        )

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
        """The settings' scan options (services.options.scan_options) with the command line's
        (``--batch-size 0``: automatic, whatever the settings say)."""
        from blipdesk.services.options import scan_options

        ns = self.ns
        return scan_options(
            self.settings,
            self.paths.features_dir,
            batch_size=getattr(ns, "batch_size", None),
            recursive=False if getattr(ns, "no_recursive", False) else None,
            feature_cache=getattr(ns, "feature_cache", None),
            feature_format=getattr(ns, "feature_format", None),
            feature_budget=getattr(ns, "feature_budget", None),
        )

    def remember_feature_budget(self) -> None:
        """``--feature-budget`` is a property of the data folder, like Settings' field: kept."""
        budget = getattr(self.ns, "feature_budget", None)
        if budget is not None and budget != self.settings.feature_budget:
            self.settings = self.settings.with_changes(feature_budget=budget)
            self.settings_file.save(self.settings)

    def device(self) -> tuple[str, str]:
        """(device, precision): the command line's, else the settings'."""
        choice = self.model()
        return choice.device, choice.precision

    def check_device(self) -> None:
        """Refuse a device or precision this machine lacks now, not after listing and hashing
        every photo (imports torch: only for a choice given on the command line)."""
        device, precision = getattr(self.ns, "device", None), getattr(self.ns, "precision", None)
        if device in (None, "auto", "cpu") and precision in (None, "auto"):
            return
        from blipdesk.core.device import resolve_placement

        resolve_placement(*self.device())

    def scorer(self, progress: Phases | None = None) -> Callable[[], Scorer]:
        """The model, loaded on first call, saying so on stderr first (it takes 10-60 s): which
        model, where and in what precision; fp16 on the CPU is warned about (it is slower than
        fp32 there)."""
        from blipdesk.core.engine import lazy_scorer

        choice = self.model()
        spec, device, precision = choice.spec, choice.device, choice.precision
        inner = lazy_scorer(spec, device, precision, choice.first_token)
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


def _announce_load(source: str, device: str, precision: str, progress: Phases | None) -> None:
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


_PLACEHOLDERS = ("NAME", "FOLDER")  # words of a hint the person replaces: never quoted


def command(ns: argparse.Namespace, *words: str) -> str:
    """The command to type, ready to paste (``--data-dir`` kept when the person gave one)."""
    data_dir = getattr(ns, "data_dir", None)
    head = ["blipdesk", *(["--data-dir", data_dir] if data_dir else [])]
    quoted = [w if w in _PLACEHOLDERS else shell_word(w) for w in words]
    return " ".join([*map(shell_word, head), *quoted])


def shell_word(word: str) -> str:
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


def scan_command(ns: argparse.Namespace, folders: Sequence[str]) -> str:
    model = getattr(ns, "model", None)
    return command(ns, "scan", *folders, *(["--model", model] if model else []))


def what_is_missing(
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

    scan_cmd = scan_command(ns, folders)
    known = {path for path, _, _ in photos}
    unscanned = sum(1 for p in find_photos(folders, recursive) if p not in known)
    where = ", ".join(map(display_path, folders))
    if not tags:
        print(
            f"blipdesk: there are no tags yet, so no photo carries one; add one with: "
            f"{command(ns, 'tags', 'add', 'NAME')}, then: {scan_cmd}",
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


def existing_folders(names: Sequence[str]) -> list[str]:
    out = []
    for name in names:
        path = Path(name).expanduser()
        if not path.is_dir():
            raise UsageError(f"{display_path(name)} is not a folder.")
        out.append(str(path.resolve()))
    return out


class StopOnCtrlC:
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


def warn_long_sentences(ctx: Context, sentences: Sequence[str]) -> list[str]:
    """Tell the person about sentences the model will cut; returns them.

    A BERT WordPiece token covers at least one character, so a sentence of at most 510
    characters always fits: only longer ones load the tokenizer (never the weights, never the
    network) to count exactly; without it the warning says "may"."""
    from blipdesk.core.model import MAX_TEXT_TOKENS
    from blipdesk.core.runner import shorten

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


def _token_counts(ctx: Context, sentences: Sequence[str]) -> dict[str, int]:
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
