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
    assert keys["&Clear the label"] == "Shift+C"  # C is Compare, as in Lightroom
    assert keys["&Compare the selected photos"] == "C"
    assert "0" in keys.values()  # the rating's own key stays


def test_the_label_row_waits_for_a_photo_and_a_tag(qtbot, make_window):
    """Yes / No / Clear under the scores are greyed out while there is nothing to label."""
    window = make_window()
    buttons = window.findChild(QWidget, "labelBar").findChildren(QPushButton)
    assert [b.text().split()[-1] for b in buttons] == ["Yes", "No", "Clear"]
    assert not any(b.isEnabled() for b in buttons)


def test_a_long_status_message_ends_in_an_ellipsis_with_the_whole_text_in_its_tooltip(
    qtbot, make_window
):
    window = make_window()
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    bar = window.statusBar()
    text = "“a dog on a beach”: the best 24 candidates checked by match; " * 4
    bar.showMessage(text)
    shown = bar.currentMessage()
    assert shown.endswith("…") and len(shown) < len(text)
    assert bar.fontMetrics().horizontalAdvance(shown) <= bar.room()
    assert bar.toolTip() == text and bar.full_message() == text
    bar.showMessage("Scan finished")  # a short one is shown whole
    assert bar.currentMessage() == "Scan finished"
    bar.clearMessage()
    assert bar.toolTip() == "" and bar.full_message() == ""


def test_a_timed_status_message_still_goes_after_a_resize(qtbot, make_window):
    window = make_window()
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    bar = window.statusBar()
    bar.showMessage("Copied 3 photos " * 20, 300)
    before = bar.width()
    window.resize(1500, 600)  # elided again to the wider bar
    qtbot.waitUntil(lambda: bar.width() != before, timeout=3000)
    qtbot.waitUntil(lambda: bar.currentMessage() == "", timeout=3000)
