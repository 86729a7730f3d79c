"""Every key of the window does one thing: no two actions share a shortcut where both can fire
(Qt calls that an ambiguous overload and runs neither: the 0 key once meant both "no stars" and
"clear the label", and did nothing)."""

from __future__ import annotations

from collections import defaultdict

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QPushButton, QWidget


def test_no_two_actions_share_a_key(qtbot, make_window):
    window = make_window()
    owners: dict[str, list[str]] = defaultdict(list)
    for action in window.findChildren(QAction):
        for key in action.shortcuts():
            text = key.toString(QKeySequence.SequenceFormat.PortableText)
            if text:
                owners[text].append(action.text())
    shared = {key: names for key, names in owners.items() if len(set(names)) > 1}
    assert owners, "the window has shortcuts"
    assert not shared, shared


def test_the_clear_label_key_is_not_a_rating_key(qtbot, make_window):
    window = make_window()
    keys = {a.text(): a.shortcut().toString() for a in window.findChildren(QAction) if a.shortcut()}
    assert keys["&Clear the label"] == "C"
    assert "0" in keys.values()  # the rating's own key stays


def test_the_label_row_waits_for_a_photo_and_a_tag(qtbot, make_window):
    """Yes / No / Clear under the scores are greyed out while there is nothing to label."""
    window = make_window()
    buttons = window.findChild(QWidget, "labelBar").findChildren(QPushButton)
    assert [b.text().split()[-1] for b in buttons] == ["Yes", "No", "Clear"]
    assert not any(b.isEnabled() for b in buttons)
