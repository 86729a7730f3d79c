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
    blipdesk [--data-dir DIR] keywords add|remove|list|import|suggest ...
    blipdesk [--data-dir DIR] results|cluster|label|similar ...   (each: --help)
    blipdesk [--data-dir DIR] [FOLDER]          # the desktop app

Which one: the first positional word. A command name selects the command; anything else (or
nothing) opens the app, so ``blipdesk ~/Photos`` works; a word that is neither a command nor an
existing path is a usage error. A folder that happens to be called like a
command is opened with a path spelling (``blipdesk ./scan``).

Each command is a module of ``cli/commands`` that registers itself (``register(commands)``, see
``cli/context.py``); this module builds the parser from ``COMMANDS`` and dispatches.

Exit codes: 0 done (a scan that met unreadable photos still ran: they are listed on stderr),
1 a failure the person can fix (a scan that could not list a folder ran on the rest and kept that
folder's photos as they were) (one line on stderr), 2 bad usage, 130 interrupted (Ctrl-C; work
finished before it stays in the cache), 143 or 129 for SIGTERM or SIGHUP, which stop a scan the
same way.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from typing import Protocol

from blipdesk import __version__
from blipdesk.cli.args import CommandParser, Commands, add_common_options, subcommands
from blipdesk.cli.commands import (
    cluster,
    explain,
    export,
    keywords,
    results,
    scan,
    search,
    tags,
    teach,
    xmp,
)
from blipdesk.cli.context import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Context,
    UsageError,
)
from blipdesk.infra.display import display_path, display_text
from blipdesk.infra.errors import UserError

__all__ = [
    "COMMANDS",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Command",
    "UsageError",
    "build_parser",
    "command_names",
    "command_parser",
    "run",
]


class Command(Protocol):
    """The one registration protocol: a module of ``cli/commands`` adds its parser(s) to
    ``commands`` and sets each one's ``handler`` (a ``context.Handler``)."""

    def register(self, commands: Commands) -> None: ...


# The command modules, in the order ``blipdesk --help`` lists them.
COMMANDS: tuple[Command, ...] = (
    tags,
    scan,
    search,
    export,
    xmp,
    keywords,
    explain,
    results,
    cluster,
    teach,
)

log = logging.getLogger(__name__)


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

    def _wants_command(self, tokens: Sequence[str]) -> bool:
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
                return token in command_names(self) or not os.path.exists(token)
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
    for module in COMMANDS:
        module.register(sub)
    return parser


def command_names(parser: argparse.ArgumentParser) -> list[str]:
    """The commands ``parser`` (from ``build_parser``) knows, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def run(ns: argparse.Namespace) -> int:
    _setup_logging(ns)
    try:
        code: int = ns.handler(ns, Context(ns))
        if sys.stdout is not None:  # a closed pipe is found here, not in the exit's own flush
            sys.stdout.flush()
        return code
    except UsageError as exc:
        print(f"blipdesk: {display_text(str(exc), 4000)}", file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:  # its text may quote a file (a results file's, a sidecar's)
        print(f"blipdesk: {display_text(str(exc), 4000)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("blipdesk: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # ``| head``: the reader has what it wanted; end quietly
        _drop_stdout()
        return EXIT_CLOSED_PIPE
    except (sqlite3.Error, OSError) as exc:
        # The disk is full, the data folder is read-only, a file vanished: the person can fix it.
        # SQLite rolls the transaction in flight back, so the cache stays as it was.
        print(f"blipdesk: {_storage_problem(ns, exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: one line here, the traceback in the log file
        where = _log_traceback(ns)
        print(f"blipdesk: internal error: {exc!r} (details in {where})", file=sys.stderr)
        return EXIT_ERROR


EXIT_CLOSED_PIPE = 128 + 13  # as a program killed by SIGPIPE ends: what shells expect


def _drop_stdout() -> None:
    """After a closed pipe: point stdout at nothing, so the interpreter's last flush of what is
    still buffered does not fail (and print a traceback) on its way out."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _storage_problem(ns: argparse.Namespace, exc: BaseException) -> str:
    """One line for an OSError or SQLite error: it blames the data folder only where the
    cache's database failed (an SQLite error) or the file named is in it; a full disk under an
    output, a ``--results`` folder or the terminal is said as that, not as the data folder's."""
    from blipdesk.infra.paths import resolve_paths

    where = resolve_paths(ns.data_dir).data_dir
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    lowered = str(exc).lower()
    filename = getattr(exc, "filename", None)
    ours = isinstance(exc, sqlite3.Error) or (
        filename is not None and _inside(os.fspath(filename), os.fspath(where))
    )
    full = "full" in lowered or getattr(exc, "errno", None) == errno.ENOSPC
    refused = (
        "readonly" in lowered
        or "read-only" in lowered
        or getattr(exc, "errno", None) in (errno.EACCES, errno.EROFS)
    )
    if full:
        hint = "free some disk space" + (" or choose another --data-dir" if ours else "")
        hint += "; finished work stays cached"
    elif refused:
        hint = "blipdesk needs to write there" + ("; choose another --data-dir" if ours else "")
    else:
        hint = "nothing was changed by the step that failed"
    if filename:
        return f"cannot use {display_path(os.fspath(filename))}: {text} ({hint})."
    if ours:
        return f"cannot use the data folder {display_path(where)}: {text} ({hint})."
    return f"{text[:1].lower()}{text[1:]} ({hint})."


def _inside(path: str, folder: str) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


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
