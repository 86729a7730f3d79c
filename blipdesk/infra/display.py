"""Paths shown to people: one line each, whatever the file is called. Qt-free.

A file name may hold a line break, a tab, a terminal escape, a right-to-left override or bytes
that are not UTF-8 (``os.fsdecode`` turns them into lone surrogates). Printed raw, such a name
splits a listing's line or forges one (``"a.jpg\\nb.jpg: +dog"``). Every human-readable line of
the command line and every message naming a file goes through :func:`display_path`; machine
output (JSON, CSV) keeps the raw name.
"""

from __future__ import annotations

import os


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as is when every character prints as itself, else quoted with Python's escapes
    (``'a\\nb.jpg'``, ``'caf\\udce9.jpg'``), so it stays on one line and reads unambiguously."""
    text = os.fspath(path)
    if text.isprintable():
        return text
    return repr(text)
