""" "Why?" in the detail panel: the selected sentence's Grad-CAM map, computed in the inference
worker from the vision cache (no vision pass), laid over the preview with an opacity slider."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt


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
        qtbot.wait(50)  # pending resizes
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
