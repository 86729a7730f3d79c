"""display_path: a file name shown to a person stays on one line and reads unambiguously."""

from __future__ import annotations

import os

import pytest

from blipdesk.infra.display import display_path


@pytest.mark.parametrize(
    "name",
    ["/photos/dog.jpg", "/photos/with spaces.jpg", "/photos/emoji 🐶🏖️ مرحبا.png", "/p/café.jpg"],
)
def test_printable_names_are_shown_as_they_are(name):
    assert display_path(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "/photos/a.jpg\n/photos/b.jpg: +owned",  # would forge a second listing line
        "/photos/tab\there.jpg",
        "/photos/\x1b[31mred.jpg",  # a terminal escape
        "/photos/\u202egpj.exe",  # a right-to-left override
        os.fsdecode(b"/photos/latin-1 caf\xe9.jpg"),  # not UTF-8: a lone surrogate
    ],
)
def test_other_names_are_quoted_on_one_line(name):
    shown = display_path(name)
    assert shown.isprintable() and shown.startswith(("'", '"')) and eval(shown) == name
