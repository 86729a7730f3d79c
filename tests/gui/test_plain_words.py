"""Text written for people (issue 14, items 7 and 11): nothing clipped, no "ITM 0.402 cos -0.118",
menu paths as they are; "Try on this photo" names its photo, shows the model loading, and its
answer is kept."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtWidgets import QApplication

from blipdesk.domain import SentenceScore
from blipdesk.qt.common.values import PhotoScores, Tag
from blipdesk.qt.models.photos import Roles
from blipdesk.qt.widgets.tag_editor import TagEditorDialog
from blipdesk.services.settings import Settings


def test_an_unreadable_photos_reason_wraps_and_its_tooltip_says_it_once(
    qtbot, make_window, tmp_path
):
    folder = tmp_path / "awkward"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"not a photo")
    window = make_window()
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 1, timeout=10000)
    window.tags.set_tags([Tag("beach", ("a beach",), 0.5, None), Tag("dog", ("a dog",), 0.5, None)])
    window.grid.setCurrentIndex(window.photos.index(0))
    preview = window.detail.preview
    qtbot.waitUntil(lambda: preview.text().startswith("Cannot show"), timeout=10000)
    text = preview.text()
    assert "not an image, or an image format Pillow cannot read" in text
    # Wrapped inside the label: no side is cut ("ot show: … Pillow cannot" was all one saw).
    assert preview.wordWrap()
    width = preview.contentsRect().width() - 2 * preview.margin()
    needed = preview.fontMetrics().boundingRect(
        QRect(0, 0, width, 10000), int(Qt.TextFlag.TextWordWrap), text
    )
    assert needed.width() <= width and needed.height() <= preview.contentsRect().height()
    # The grid's own thumbnail loader knows why once its decode failed (it runs apart from the
    # detail panel's preview, and may come second on a loaded machine).
    path = window.photos.photo_at(0).path
    qtbot.waitUntil(lambda: path in window.thumbs.broken, timeout=10000)
    tip = window.photos.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "Cannot be read" in tip and "not scored yet" not in tip
    assert "a photo that cannot be read is not scored" in tip


def test_settings_explains_the_match_scoring_choice(qtbot, tmp_path):
    from blipdesk.qt.widgets.dialogs import FIRST_TOKEN_HELP, SettingsDialog

    dialog = SettingsDialog(Settings(first_token="enc"), tmp_path, None)
    qtbot.addWidget(dialog)
    combo = dialog.first_token
    items = [combo.itemText(i) for i in range(combo.count())]
    assert all("cls" not in t and "enc" not in t for t in items)  # words, not token names
    assert combo.currentData() == "enc" and dialog.settings().first_token == "enc"
    assert combo.toolTip() == FIRST_TOKEN_HELP and "scores every photo again" in FIRST_TOKEN_HELP
    combo.setCurrentIndex(combo.findData("cls"))
    assert dialog.settings().first_token == "cls"


def test_messages_name_the_settings_menu_as_it_is(qtbot, make_window):
    from blipdesk.core.model import ModelSpec, _offline_message
    from blipdesk.qt.widgets.dialogs import DownloadDialog

    window = make_window()
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert "Settings…" in [a.text().replace("&", "") for a in menus["File"].actions()]
    dialog = DownloadDialog("Salesforce/blip-itm-large-flickr", 1_800_000_000, window)
    for text in (
        dialog.label.text(),
        _offline_message(ModelSpec("Salesforce/blip-itm-large-flickr")),
    ):
        assert "File > Settings… > Model" in text and "or Settings > Model" not in text
    dialog.close()


def test_try_says_match_and_similarity_in_words(qtbot):
    dialog = TagEditorDialog(None, set(), "IMG_2024_0701_beach_holiday_family.jpg")
    qtbot.addWidget(dialog)
    text = dialog.try_button.text()  # a long name is cut in its middle: both ends stay
    assert text.startswith("Try on “IMG_2024_0701") and text.endswith("family.jpg”") and "…" in text
    assert "IMG_2024_0701_beach_holiday_family.jpg" in dialog.try_button.toolTip()
    dialog.threshold.setValue(0.5)
    dialog.show_try({"a dog on a beach": SentenceScore(0.402, -0.118, 0.0, 0.0)})
    text = dialog.try_result.text()
    assert "match 40%" in text and "similarity −0.12" in text
    assert "ITM" not in text and "cos " not in text
    assert "does not match the tag (best match 40%, threshold 50%)" in text
    assert "image-text matching probability" in dialog.try_result.toolTip()
    none = TagEditorDialog(None, set(), None)
    qtbot.addWidget(none)
    assert not none.try_button.isEnabled() and "Select a photo" in none.try_button.toolTip()


def test_try_names_its_photo_shows_the_model_loading_and_its_answer_is_kept(
    qtbot, make_window, photo_dir, use_tiny_model
):
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.grid.setCurrentIndex(window.photos.index(3))
    photo = window.grid.current_photo()
    seen: dict[str, object] = {}

    def use_the_editor() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, TagEditorDialog))
        seen["button"] = dialog.try_button.text()
        dialog.name.setText("beach")
        dialog.sentences.setPlainText("a dog on a beach")
        statuses: list[str] = []
        window.controller.status.connect(statuses.append)
        dialog.try_button.click()
        seen["busy"] = dialog.try_busy.isVisible()
        seen["waiting"] = dialog.try_result.text()
        qtbot.waitUntil(lambda: "match" in dialog.try_result.text(), timeout=60000)
        seen["statuses"] = statuses
        seen["busy after"] = dialog.try_busy.isVisible()
        dialog.accept()

    QTimer.singleShot(0, use_the_editor)
    window.edit_tag(None)
    assert seen["button"] == f"Try on “{photo.name}”"
    assert seen["busy"] and "the model loads" in str(seen["waiting"])
    assert photo.name in str(seen["waiting"])
    assert "Loading the model…" in seen["statuses"]  # shown in the dialog while it waits
    assert seen["busy after"] is False
    tag = next(t for t in window.tags.tags() if t.name == "beach")
    # Kept: the photo tried shows its score once the tag is saved (not "–"); others wait.
    assert window.board.tag_score(photo.path, tag) is not None
    assert window.photos.index(3).data(Roles.TagScores)[0][1] is not None
    other = window.photos.photo_at(4)
    assert window.board.tag_score(other.path, tag) is None
    assert window.board.missing([photo.path, other.path], tag.sentences) == [other.path]
    # Kept in the cache too, as a scan's score: a new window shows it after a restart.
    kept = window.board.tag_score(photo.path, tag)
    window.close()
    again = make_window()
    qtbot.waitUntil(lambda: again.board.tag_score(photo.path, tag) is not None, timeout=10000)
    assert abs(again.board.tag_score(photo.path, tag) - kept) < 1e-6
    assert again.board.tag_score(other.path, tag) is None


def test_a_kept_try_merges_with_scanned_scores(qtbot, make_window, photo_dir):
    """The window's merge keeps what a scan delivered for other sentences."""
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    path = window.photos.photo_at(0).path
    window.board.merge((PhotoScores(path, {"old": SentenceScore(0.9, 0.3, 0, 0)}),))
    window.tag_actions.tried.emit(path, {"new": SentenceScore(0.2, 0.1, 0, 0)})
    assert set(window.board.sentences_of(path)) == {"old", "new"}
