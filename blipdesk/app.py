"""Composition root: parse the command line, then start the GUI or a headless command.

Nothing heavy is imported here: torch and transformers load only when a model is needed, and Qt
only when the window opens, so ``blipdesk --help`` and the window appear fast.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import socket
import sys
from collections.abc import Mapping, Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``argv`` None: the process's own command line (the ``blipdesk`` script, ``python -m
    blipdesk``); then a command that loaded torch ends the process as soon as its last line is
    printed (``exit_now``). With ``argv`` given (tests, embedding), it only returns."""
    from blipdesk import cli

    args = list(sys.argv[1:] if argv is None else argv)
    parser = cli.build_parser()
    ns = parser.parse_args(args)
    if getattr(ns, "command", None):
        code = cli.run(ns)
        if argv is None and "torch" in sys.modules:
            exit_now(code)
        return code
    problem = display_problem()
    if problem:  # Qt would abort with a core dump and "Reinstalling the application may fix this"
        commands = "|".join(cli.command_names(parser))
        print(
            f"blipdesk: {problem}, so the desktop window cannot open; the command line works "
            f"without one: blipdesk {commands} (see blipdesk --help).",
            file=sys.stderr,
        )
        return 1
    return start_gui(ns)


# Qt platforms that draw without a display server (QT_QPA_PLATFORM=offscreen for tests and
# screenshots, a VNC server, the framebuffer): the window opens with these whatever DISPLAY says.
HEADLESS_PLATFORMS = frozenset(
    {"offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb", "vkkhrdisplay", "directfb"}
)


def display_problem(
    env: Mapping[str, str] | None = None, platform: str = sys.platform
) -> str | None:
    """Why the window could not open here, or None when it can (as far as can be told without
    starting Qt). Only X11 and Wayland systems need a display server named by the environment;
    a local X display (``:N``) must also answer on its socket."""
    if platform in ("win32", "darwin", "cygwin"):
        return None
    env = os.environ if env is None else env
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    names = [p.split(":", 1)[0].strip().lower() for p in requested.split(";") if p.strip()]
    if any(n in HEADLESS_PLATFORMS for n in names):
        return None
    wants_x = not names or any(n == "xcb" for n in names)
    wants_wayland = not names or any(n.startswith("wayland") for n in names)
    x, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    if wants_wayland and wayland and _wayland_answers(wayland, env):
        return None
    if wants_x and x:
        why = _x_problem(x)
        return None if why is None else why
    if wants_wayland and wayland:
        return f"no Wayland compositor answers at WAYLAND_DISPLAY={wayland}"
    if names and not (wants_x or wants_wayland):
        return None  # a platform plugin blipdesk does not know: let Qt decide
    variables = " and ".join(
        v for v, wanted in (("DISPLAY", wants_x), ("WAYLAND_DISPLAY", wants_wayland)) if wanted
    )
    return f"no display found ({variables} {'is' if ' and ' not in variables else 'are'} not set)"


def _x_problem(display: str) -> str | None:
    """None when the X display answers (or is remote: not checked), else why not."""
    match = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display.strip())
    if match is None:
        return None  # host:N over TCP, or a launchd socket path: Qt will tell
    path = f"/tmp/.X11-unix/X{match.group(1)}"
    for address in ("\0" + path, path):  # Linux's abstract socket first, then the file
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(1.0)
            sock.connect(address)
            return None
    return f"no X server answers at DISPLAY={display}"


def _wayland_answers(name: str, env: Mapping[str, str]) -> bool:
    path = name if os.path.isabs(name) else os.path.join(env.get("XDG_RUNTIME_DIR", ""), name)
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(1.0)
        sock.connect(path)
        return True
    return False


def exit_now(code: int) -> None:
    """End the process now, skipping the interpreter's teardown: with torch and a model loaded
    it takes seconds (measured 2.4 s with the tiny test model), during which a command that has
    printed "done" would still be running. Everything is written by then: the cache is
    committed and closed, standard output and the log are flushed here."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            code = code or 1
    logging.shutdown()
    os._exit(code)


def start_gui(ns: argparse.Namespace) -> int:
    """Open the desktop window (on ``ns.folder`` when given)."""
    try:
        from blipdesk.qt.application import run_gui
    except ImportError as exc:
        print(f"blipdesk: the desktop window cannot start: {exc}", file=sys.stderr)
        return 1
    return run_gui(ns)
