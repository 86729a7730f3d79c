"""The command line's shared parts: one subparser factory, the options every command takes, the
model options and the argument types. Every command module (``cli/commands/``) builds its parser
from these, so usage lines, errors and choices read the same everywhere. Never imports torch or
Qt: ``blipdesk --help`` stays instant.

    sub = subcommands(parser, "command")        # cli.build_parser makes it
    p = add_command(sub, "scan", "score the photos under folders against every tag")
    add_model_options(p, compute=True)          # --model, --device, --precision, --batch-size...
    p.add_argument("--top", type=positive_int, ...)

Errors from these types read as sentences (``argument --threshold: 'abc' is not a number: give a
probability between 0 and 1, like 0.5``), never as the name of a Python function.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

# What core/device.py's resolve_placement accepts (tests/e2e/test_cli_usage.py checks they agree);
# written here too because importing device.py imports torch.
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def add_common_options(parser: argparse.ArgumentParser, top_level: bool = False) -> None:
    """``-v`` and ``--data-dir``: accepted before the command (``top_level``) and after it.

    After the command they default to ``argparse.SUPPRESS``, so a value given before the command
    is kept when none is given after it."""
    default: Any = 0 if top_level else argparse.SUPPRESS
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="log progress to stderr (-vv: debug); the data folder's blipdesk.log keeps INFO and up",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None if top_level else argparse.SUPPRESS,
        help="keep all of blipdesk's state (settings, tags, cache, thumbnails) under DIR "
        "(default: $BLIPDESK_DATA_DIR, else the platform's user data folder)",
    )


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that answers a mistyped command with the one meant."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if isinstance(action, Commands) and value not in action.choices:
            close = closest_command(value, action)
            hint = f"; did you mean {close!r}?" if close else ""
            raise argparse.ArgumentError(
                None, f"unknown command {value!r}{hint} (choose from {', '.join(action.choices)})"
            )
        super()._check_value(action, value)


def sentence(text: str) -> str:
    """A SENTENCE argument: some words (an empty or blank one matches nothing: refused)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give some words, like 'a dog on a beach'")
    return text


def closest_command(word: str, commands: Commands) -> str | None:
    """The command a mistyped ``word`` most likely meant, by the fewest edits (a letter left
    out, added, changed or two swapped), among ``commands`` and their own subcommands (``lst``:
    ``tags list``); None when nothing is within a third of the word's length (at least one)."""
    best: tuple[int, int, str] | None = None
    for order, (spelled, name) in enumerate(_command_words(commands)):
        distance = _edits(word.lower(), name.lower())
        if best is None or (distance, order) < best[:2]:
            best = (distance, order, spelled)
    if best is None or best[0] > max(1, len(word) // 3):
        return None
    return best[2]


def _command_words(commands: Commands, prefix: str = "") -> list[tuple[str, str]]:
    """(how to type it, its last word) for every command, top-level ones first."""
    top = [(f"{prefix}{name}", name) for name in commands.choices]
    nested = []
    for name, parser in commands.choices.items():
        for action in parser._actions:
            if isinstance(action, Commands):
                nested += _command_words(action, f"{prefix}{name} ")
    return top + nested


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, changes, adjacent swaps."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


class Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The subparsers action of ``subcommands``: every child parser, made with ``add_command``
    or with a plain ``sub.add_parser`` (as ``commands/explain.py`` does), takes the common
    options after the command too and has a description."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if kwargs.get("help") and not kwargs.get("description"):
            kwargs["description"] = _sentence(kwargs["help"])
        parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)
        add_common_options(parser)
        return parser


def subcommands(parser: argparse.ArgumentParser, dest: str, **kwargs: Any) -> Commands:
    """``parser.add_subparsers`` whose children's usage and errors start with ``PROG NAME``
    (argparse would otherwise repeat the parent's whole usage line before every child's name)."""
    sub: Commands = parser.add_subparsers(  # type: ignore[assignment]  # action=Commands
        dest=dest, prog=parser.prog, action=Commands, **kwargs
    )
    return sub


def add_command(
    sub: Any, name: str, help: str, description: str | None = None, **kwargs: Any
) -> argparse.ArgumentParser:
    """A command's parser (``sub``: from ``subcommands``)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description, **kwargs
    )
    return parser


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# ----------------------------------------------------------------------------------- types


def integer(text: str) -> int:
    """Any whole number (``int`` as a type would print ``invalid int value: 'x'``)."""
    value: int = _number(text, int, "a whole number")
    return value


def _number(text: str, kind: type, what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {noun}: give {what}") from None


def positive_int(text: str) -> int:
    value: int = _number(text, int, "a whole number, 1 or more")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is too small: give a whole number, 1 or more")
    return value


def probability(text: str) -> float:
    value: float = _number(text, float, "a probability between 0 and 1, like 0.5")
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"{text!r} is not between 0 and 1: give a probability like 0.5"
        )
    return value


def batch_size(text: str) -> int:
    """0 (automatic: by device) or 1 to ``settings.MAX_BATCH_SIZE``."""
    from blipdesk.services.settings import MAX_BATCH_SIZE

    what = f"0 (automatic) or a whole number from 1 to {MAX_BATCH_SIZE}"
    value: int = _number(text, int, what)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative: give {what}")
    if value > MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(
            f"{text!r} is too large: at most {MAX_BATCH_SIZE} photos per batch (larger batches "
            "only run out of memory), or 0 for automatic"
        )
    return value


def size(text: str) -> int:
    from blipdesk.core.feature_cache import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def device(text: str) -> str:
    """The syntax of a device (``core/device.py`` decides later whether this machine has it)."""
    value = text.strip().lower()
    if not _DEVICE.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"unknown device {text!r}: choose {', '.join(DEVICES[:-1])} or {DEVICES[-1]}"
        )
    return value


def precision(text: str) -> str:
    value = text.strip().lower()
    if value not in PRECISIONS:
        raise argparse.ArgumentTypeError(
            f"unknown precision {text!r}: choose {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}"
        )
    return value


# ----------------------------------------------------------------------------------- model options


def add_model_options(
    parser: argparse.ArgumentParser, compute: bool, scanning: bool = True
) -> None:
    """``--model``; with ``compute`` (commands that may run the model) also the device and
    precision, and with ``scanning`` (commands that go through folders: not ``explain``) the
    batch, folder and vision-cache options that ``context.Context`` reads."""
    parser.add_argument(
        "--model",
        metavar="ID_OR_DIR",
        help="hub id or local model folder (default: the library's model; a scan with --model "
        "makes it the library's model, used by export, search, xmp and the app)",
    )
    if not compute:
        return
    parser.add_argument(
        "--device",
        type=device,
        metavar="{" + ",".join(DEVICES) + "}",
        help="where the model runs; auto: the first CUDA GPU, else Apple's MPS, else the CPU "
        "(default: settings, auto)",
    )
    parser.add_argument(
        "--precision",
        type=precision,
        metavar="{" + ",".join(PRECISIONS) + "}",
        help="auto: fp16 on a GPU; on the CPU bf16 where it is native, else fp32. fp16 on the "
        "CPU is slower than fp32 (a warning says so) (default: settings, auto)",
    )
    if not scanning:
        return
    parser.add_argument(
        "--batch-size",
        type=batch_size,
        metavar="N",
        help="photos per batch: 1 to 1024, or 0 for automatic (64 on a GPU, 8 on the CPU) "
        "(default: settings, 0)",
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
        type=size,
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
