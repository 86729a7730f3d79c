"""Sidecars, export, copy and link from the window, on scores from a real (tiny-model) scan."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel

from blipdesk.qt.common.values import Tag
from blipdesk.services import sidecars


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def scanned(qtbot, make_window, photo_dir, use_tiny_model):
    # Threshold 0: every scored photo carries "everything"; 1.0: no photo carries "never".
    return _scanned_window(
        qtbot, make_window, photo_dir, 10, Tag("never", ("a cat",), 1.0, "#4363d8")
    )


def _scanned_window(qtbot, make_window, folder, count: int, *more: Tag):
    window = make_window()
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.rowCount() == count, timeout=10000)
    for tag in (Tag("everything", ("a photo",), 0.0, "#e6194b"), *more):
        window.save_tag(tag)
    with qtbot.waitSignal(window.controller.scanFinished, timeout=90000) as done:
        window.scan()
    assert done.args[0] == "done"
    qtbot.waitUntil(
        lambda: all(window.board.has_any(p.path) for p in window.photos.photos()), timeout=5000
    )
    return window


def _select(window, rows) -> list[str]:
    sel = window.grid.selectionModel()
    sel.clearSelection()
    for row in rows:
        sel.select(window.photos.index(row), QItemSelectionModel.SelectionFlag.Select)
    return [window.photos.photo_at(r).path for r in rows]


def _rows(tree) -> list[list[str]]:
    return [
        [tree.topLevelItem(i).text(c) for c in range(tree.columnCount())]
        for i in range(tree.topLevelItemCount())
    ]


def test_sidecars_preview_write_and_remove(qtbot, scanned, photo_dir):
    window = scanned
    chosen = _select(window, [0, 1])
    before = {p: _digest(p) for p in chosen}

    dialog = window.write_sidecars()
    with qtbot.waitSignal(dialog.planned, timeout=10000):
        pass
    assert dialog.scope.currentText() == "Selected photos (2)"
    assert dialog.scope.count() == 2  # the selection, the whole folder (no filter active)
    rows = _rows(dialog.tree)
    assert sorted(r[0] for r in rows) == sorted(
        os.path.relpath(p, photo_dir) + ".xmp" for p in chosen
    )
    assert all(r[1:] == ["create", "everything", ""] for r in rows)
    assert "<b>2</b> sidecars to write" in dialog.summary.text()
    assert dialog.go.isEnabled()

    # The other naming re-plans: photo.xmp.
    with qtbot.waitSignal(dialog.planned, timeout=10000):
        dialog.naming.setCurrentIndex(1)
    assert all(r[0].endswith(".xmp") and ".jpg" not in r[0] for r in _rows(dialog.tree))
    with qtbot.waitSignal(dialog.planned, timeout=10000):
        dialog.naming.setCurrentIndex(0)

    with qtbot.waitSignal(dialog.applied, timeout=10000) as applied:
        dialog.go.click()
    run = applied.args[0]
    assert len(run.changed) == 2 and not run.failed
    for photo in chosen:
        got = sidecars.read_sidecar(photo + ".xmp")
        assert got.blipdesk_tags == ("everything",)
        assert _digest(photo) == before[photo]  # photos are never written
    assert not os.path.exists(window.photos.photo_at(2).path + ".xmp")
    assert "Done" in dialog.summary.text()
    dialog.reject()
    assert window.files.sidecar_dialog is None

    # Writing again changes nothing.
    again = window.write_sidecars()
    with qtbot.waitSignal(again.planned, timeout=10000):
        pass
    assert again.tree.topLevelItemCount() == 0
    assert not again.go.isEnabled()
    again.reject()

    # Remove: both sidecars were blipdesk's alone, so they are deleted.
    removal = window.remove_sidecar_tags()
    with qtbot.waitSignal(removal.planned, timeout=10000):
        pass
    assert sorted(r[1] for r in _rows(removal.tree)) == ["delete", "delete"]
    with qtbot.waitSignal(removal.applied, timeout=10000):
        removal.go.click()
    assert not any(os.path.exists(p + ".xmp") for p in chosen)
    removal.reject()


def test_remove_keeps_user_keywords(qtbot, scanned, photo_dir):
    window = scanned
    photo = window.photos.photo_at(0).path
    sidecar = photo + ".xmp"
    with open(sidecar, "w", encoding="utf-8") as fh:
        fh.write(
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
            "<rdf:li>holiday</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF>"
            "</x:xmpmeta>"
        )
    _select(window, [0])
    dialog = window.write_sidecars()
    with qtbot.waitSignal(dialog.planned, timeout=10000):
        pass
    assert _rows(dialog.tree) == [[os.path.relpath(sidecar, photo_dir), "update", "everything", ""]]
    with qtbot.waitSignal(dialog.applied, timeout=10000):
        dialog.go.click()
    dialog.reject()
    assert set(sidecars.read_sidecar(sidecar).subjects) == {"holiday", "everything"}

    removal = window.remove_sidecar_tags()
    with qtbot.waitSignal(removal.planned, timeout=10000):
        pass
    assert _rows(removal.tree)[0][1:] == ["update", "", "everything"]
    with qtbot.waitSignal(removal.applied, timeout=10000):
        removal.go.click()
    removal.reject()
    got = sidecars.read_sidecar(sidecar)
    assert got.subjects == ("holiday",) and got.blipdesk_tags == ()


def test_export_json_and_csv(qtbot, scanned, tmp_path):
    window = scanned
    target = tmp_path / "all.json"
    with qtbot.waitSignal(window.tasks.done, timeout=10000):
        window.export_photos(str(target))
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert {t["name"] for t in doc["tags"]} == {"everything", "never"}
    assert len(doc["photos"]) == 10
    for photo in doc["photos"]:
        assert photo["error"] is None
        assert photo["tags"]["everything"]["match"] is True
        assert photo["tags"]["never"]["match"] is False
        assert 0.0 <= photo["tags"]["everything"]["sentences"]["a photo"]["itm"] <= 1.0

    chosen = _select(window, [2, 5])
    target = tmp_path / "some.csv"
    with qtbot.waitSignal(window.tasks.done, timeout=10000):
        window.export_photos(str(target))
    with open(target, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "tag", "sentence", "itm", "cosine", "match", "label",
                             "precision", "vision_cache"]  # fmt: skip
    assert {r["path"] for r in rows} == set(chosen)
    assert len(rows) == 4  # two photos x two tags of one sentence
    assert {(r["tag"], r["match"]) for r in rows} == {("everything", "true"), ("never", "false")}


def test_copy_and_link_leave_originals_alone(qtbot, scanned, tmp_path):
    window = scanned
    chosen = _select(window, [0, 3, 8])
    before = {p: (_digest(p), os.stat(p).st_mtime_ns) for p in chosen}
    dest = tmp_path / "picked"
    with qtbot.waitSignal(window.tasks.done, timeout=10000) as done:
        window.copy_photos("copy", str(dest))
    assert all(r.ok for r in done.args[1])
    copies = sorted(dest.iterdir())
    assert sorted(c.name for c in copies) == sorted(os.path.basename(p) for p in chosen)
    for p in chosen:
        assert (_digest(p), os.stat(p).st_mtime_ns) == before[p]
        assert _digest(dest / os.path.basename(p)) == before[p][0]
    # Again into the same folder: nothing is overwritten, new names are taken.
    with qtbot.waitSignal(window.tasks.done, timeout=10000):
        window.copy_photos("copy", str(dest))
    assert len(list(dest.iterdir())) == 6

    links = tmp_path / "linked"
    with qtbot.waitSignal(window.tasks.done, timeout=10000):
        window.copy_photos("symlink", str(links))
    for p in chosen:
        link = links / os.path.basename(p)
        assert link.is_symlink() and os.path.realpath(link) == os.path.realpath(p)
    assert "Linked 3 photos" in window.statusBar().currentMessage()


def test_export_of_a_name_that_is_not_utf8(qtbot, make_window, tmp_path, use_tiny_model):
    """The window writes the CLI's format through the same module: a file name that is not UTF-8
    is a JSON escape in JSON and its own bytes in CSV, and no temporary is left behind."""
    from tests.helpers.models import scene

    folder = tmp_path / "odd"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.jpg")  # 'caf\udce9.jpg'
    scene(320, 240, 1).save(os.path.join(folder, name), format="JPEG")
    window = _scanned_window(qtbot, make_window, folder, 1)
    out = tmp_path / "out"
    out.mkdir()
    for fmt in ("json", "csv"):
        with qtbot.waitSignal(window.tasks.done, timeout=10000):
            window.export_photos(str(out / f"odd.{fmt}"))
    doc = json.loads((out / "odd.json").read_bytes().decode("utf-8"))
    assert [p["path"] for p in doc["photos"]] == [os.path.join(str(folder), name)]
    assert os.fsencode(os.path.join(folder, name)) in (out / "odd.csv").read_bytes()
    assert sorted(os.listdir(out)) == ["odd.csv", "odd.json"]
