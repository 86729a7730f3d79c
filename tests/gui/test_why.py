""" "Why?" in the detail panel: the selected sentence's Grad-CAM map, computed in the inference
worker from the vision cache (no vision pass), laid over the preview with an opacity slider."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from tests.gui.waiting import flush, viewer_settled


def test_why_lays_the_map_over_the_preview(qtbot, scanned_window, monkeypatch):
    window = scanned_window
    window.grid.setCurrentIndex(window.photos.index(0))
    detail = window.detail
    qtbot.waitUntil(lambda: detail.previews.pixmap(detail.photo.path) is not None, timeout=10000)
    assert not detail.why.isEnabled()  # nothing selected yet
    tag_row = detail.scores.topLevelItem(0)
    detail.scores.setCurrentItem(tag_row)
    assert not detail.why.isEnabled()  # a tag is not a sentence
    detail.scores.setCurrentItem(tag_row.child(0))
    assert detail.selected_sentence() == "a dog on a beach" and detail.why.isEnabled()

    def alone():
        """The photo without the map, as the panel shows it at its present size."""
        flush()  # pending resizes
        return (
            detail.previews.pixmap(detail.photo.path)
            .scaled(
                detail.preview.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            .toImage()
        )

    def no_vision(*args, **kwargs):
        raise AssertionError("the photo's vision output is cached: no vision pass for Why?")

    scorer = window.controller.worker._scorer
    monkeypatch.setattr(scorer, "encode_images", no_vision)
    with qtbot.waitSignal(window.controller.explained, timeout=60000) as got:
        detail.why.click()
    explained = got.args[0]
    assert explained.path == detail.photo.path and explained.from_cache
    assert explained.cam.shape == (24, 24) and (explained.cam >= 0).all()
    assert "from the vision cache" in detail.why_label.text()
    plain = alone()
    shown = detail.preview.pixmap().toImage()
    assert shown.size() == plain.size() and shown != plain  # the map is over the photo
    detail.opacity.setValue(20)
    fainter = detail.preview.pixmap().toImage()
    assert fainter != shown
    detail.why.click()  # off: the photo alone again
    assert not detail.why.isChecked() and detail.preview.pixmap().toImage() != fainter
    window.grid.setCurrentIndex(window.photos.index(1))  # another photo forgets the map
    assert detail.explanation is None and not detail.why.isChecked()
    assert np.isfinite(explained.itm)


def test_why_per_word_in_the_detail_panel(qtbot, scanned_window):
    """The word combo: "All words" (the sentence's map) or one word's map, from the same answer."""
    window = scanned_window
    window.grid.setCurrentIndex(window.photos.index(0))
    detail = window.detail
    qtbot.waitUntil(lambda: detail.previews.pixmap(detail.photo.path) is not None, timeout=10000)
    detail.scores.setCurrentItem(detail.scores.topLevelItem(0).child(0))
    word = detail.why_controls.word
    assert not word.isEnabled()  # nothing computed yet
    with qtbot.waitSignal(window.controller.explained, timeout=60000) as got:
        detail.why.click()
    explained = got.args[0]
    words = [w for w, _ in explained.words]
    assert words == ["a", "dog", "on", "a", "beach"]  # whole words, in order
    assert word.isEnabled() and [word.itemText(i) for i in range(word.count())] == [
        "All words",
        *words,
    ]
    sentence_view = detail.preview.pixmap().toImage()
    word.setCurrentIndex(2)  # "dog"
    assert detail.why_controls.cam() is explained.words[1][1]
    assert "the word “dog” of “a dog on a beach”" in detail.why_label.text()
    assert detail.preview.pixmap().toImage() != sentence_view
    word.setCurrentIndex(0)
    assert detail.why_controls.cam() is explained.cam
    assert detail.preview.pixmap().toImage() == sentence_view
    detail.refresh_scores()  # new scores (a scan running) keep the sentence and its map
    assert detail.selected_sentence() == "a dog on a beach" and detail.why.isEnabled()
    assert detail.why.isChecked() and detail.why_controls.cam() is explained.cam


def test_why_in_the_viewer(qtbot, scanned_window, monkeypatch):
    """The viewer's strip: a sentence of the tags, Why? (computed in the inference worker from the
    vision cache, never on the GUI thread), the map over the photo with its opacity, one word,
    and the map following the photo when stepping."""
    import threading

    import blipdesk.core.explain as core_explain

    window = scanned_window
    threads = []
    real = core_explain.explain

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(core_explain, "explain", recording)
    window.resize(1000, 700)
    window.stack.open_viewer(window.photos.photo_at(0))
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.previews.pixmap(viewer.photo.path) is not None, timeout=10000)
    why = window.stack.why.controls
    assert why.sentence is not None and why.sentence.currentText() == "a dog on a beach"
    assert why.why.isEnabled() and window.stack.why.isVisible()
    qtbot.waitUntil(lambda: viewer_settled(viewer), timeout=10000)  # no refit or decode to come
    plain = viewer.grab().toImage()
    with qtbot.waitSignal(window.controller.explained, timeout=60000) as got:
        why.why.click()
    explained = got.args[0]
    assert explained.path == viewer.photo.path and explained.from_cache
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert why.explanation is explained and "from the vision cache" in why.label.text()
    shown = viewer.grab().toImage()
    assert shown != plain  # the map is over the photo
    why.opacity.setValue(15)
    faint = viewer.grab().toImage()
    assert faint not in (shown, plain)
    why.word.setCurrentText("beach")
    assert why.cam() is explained.words[-1][1] and viewer.grab().toImage() != faint
    # Stepping keeps Why? on and asks for the next photo's map.
    with qtbot.waitSignal(window.controller.explained, timeout=60000) as got:
        qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert got.args[0].path == viewer.photo.path == window.photos.photo_at(1).path
    assert why.why.isChecked() and why.explanation is got.args[0]
    why.why.click()  # off: the photo alone
    assert why.cam() is None
    # The detail panel did not take the viewer's answers for its own.
    assert window.detail.explanation is None
