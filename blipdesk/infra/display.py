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


def display_text(text: str, limit: int = 1000) -> str:
    """Text that came from a file (a decode error or a model name in a results file, a sentence)
    as one printable line of at most ``limit`` characters: each character that does not print as
    itself (a line break, a terminal escape such as ``ESC[2J``, a right-to-left override, a lone
    surrogate) is written as its Python escape (``\\n``, ``\\x1b``, ``\\u202e``, ``\\udce9``), and
    longer text is cut with "…". Printable text within the limit comes back as it is, so escaping
    twice changes nothing (store the escaped text, escape again when printing: the same line)."""
    if len(text) <= limit and text.isprintable():
        return text
    out: list[str] = []
    size = 0
    for char in text[:limit]:  # escapes only grow: the first ``limit`` characters are plenty
        piece = char if char.isprintable() else repr(char)[1:-1]
        out.append(piece)
        size += len(piece)
    if size <= limit and len(text) <= limit:
        return "".join(out)
    kept: list[str] = []
    size = 0
    for piece in out:
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + "…"
