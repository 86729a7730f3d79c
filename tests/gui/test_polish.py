"""Per-photo errors on the grid and in the detail panel; the Settings device list."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QColor

from blipdesk.qt.common.values import PhotoScores
from blipdesk.qt.models.photos import Roles
from blipdesk.qt.widgets.photo_grid import ERROR_BADGE, THUMB
from blipdesk.qt.workers.inference import Device, DevicesJob, next_job_id
from blipdesk.services.settings import Settings
from tests.gui.waiting import flush, settle


def test_scan_error_shows_badge_tooltip_and_detail(qtbot, make_window, photo_dir):
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    qtbot.waitUntil(lambda: window.thumbs.cached_count() >= 10, timeout=10000)
    photo = window.photos.photo_at(1)
    # What the scan delivers for a photo it could not read (its thumbnail decoded fine).
    window._results((PhotoScores(photo.path, {}, "truncated JPEG data"),))
    settle(qtbot, window)
    index = window.photos.index(1)
    assert index.data(Roles.Broken) == "truncated JPEG data"
    assert "Cannot be read: truncated JPEG data" in index.data(0x0003)
    assert window.photos.index(0).data(Roles.Broken) is None

    image = window.grid.viewport().grab().toImage()
    rect = window.grid.visualRect(index).adjusted(4, 4, -4, -4)
    box = QRect(rect.left() + (rect.width() - THUMB) // 2, rect.top() + 4, THUMB, THUMB)
    centre = image.pixelColor(box.left() + 6 + 10 - 4, box.top() + 6 + 10)
    assert abs(centre.red() - QColor(ERROR_BADGE).red()) < 30
    assert centre.green() < 90  # the red badge, not the photo
    ok = window.grid.visualRect(window.photos.index(0)).adjusted(4, 4, -4, -4)
    other = image.pixelColor(ok.left() + (ok.width() - THUMB) // 2 + 12, ok.top() + 20)
    assert other != centre

    window.grid.setCurrentIndex(index)
    assert "Cannot be read: truncated JPEG data" in window.detail.facts.text()
    window.grid.setCurrentIndex(window.photos.index(0))
    assert "Cannot be read" not in window.detail.facts.text()


def test_device_list_names_each_gpu(qtbot, tmp_path):
    from blipdesk.qt.widgets.dialogs import SettingsDialog

    dialog = SettingsDialog(Settings(device="cuda:1"), tmp_path, None)
    qtbot.addWidget(dialog)
    items = [dialog.device.itemText(i) for i in range(dialog.device.count())]
    assert items[1] == "Looking for GPUs…" and "CPU" in items
    dialog.set_devices(
        (
            Device("cuda:0", "GPU 0: NVIDIA H100  (cuda:0)"),
            Device("cuda:1", "GPU 1: A100  (cuda:1)"),
        )
    )
    items = [dialog.device.itemData(i) for i in range(dialog.device.count())]
    assert items == ["auto", "cuda:0", "cuda:1", "cpu"]
    assert dialog.settings().device == "cuda:1"  # the saved choice stays chosen

    dialog.set_devices(())  # no GPU: automatic or the CPU
    assert [dialog.device.itemText(i) for i in range(dialog.device.count())] == [
        "Automatic (best available)",
        "CPU",
        "cuda:1",  # the saved setting is kept visible rather than silently dropped
    ]


def test_worker_lists_devices(qtbot, make_window):
    import torch

    window = make_window()
    with qtbot.waitSignal(window.controller.devices, timeout=30000) as got:
        window.controller.submit(DevicesJob(next_job_id(), window._model_choice()))
    devices = got.args[0]
    assert [d.value for d in devices if d.value.startswith("cuda")] == [
        f"cuda:{i}" for i in range(torch.cuda.device_count())
    ]
    assert window.settings_flow.devices == devices


def test_grid_fills_its_width_with_uniform_cells(qtbot, make_window, photo_dir):
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    grid = window.grid
    for width in (1000, 1250, 1500):
        window.resize(width, 800)
        flush()  # the layout and the grid's reflow follow the new width
        cell = grid.gridSize()
        rects = [grid.visualRect(window.photos.index(r)) for r in range(10)]
        assert {r.size().toTuple() for r in rects} == {cell.toTuple()}  # one size for all
        per_row = sum(1 for r in rects if r.top() == rects[0].top())
        assert per_row == grid.columns()  # the layout uses every column the width allows
        # What is left at the right edge is at most the space a scroll bar takes.
        assert grid.viewport().width() - per_row * cell.width() <= 20
