"""One set of rules for "what is a photo and where are they" (``blipdesk.core.files``): the scan,
the grid's listing and the sidebar's counts agree, because they are the same walk."""

from __future__ import annotations

import os

import pytest

from blipdesk.core import files, inventory
from blipdesk.store import Library


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "photos"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    for rel in (
        "a.jpg", "b.JPEG", "c.jfif", "d.jpe", "e.mpo", "f.heic", "notes.txt", ".g.jpg",
        "sub/h.png", "sub/.i.png", "sub/deeper/j.webp", ".hidden/k.jpg",
    ):  # fmt: skip
        (root / rel).write_bytes(b"not really a photo")
    return root


def test_jfif_jpe_and_mpo_are_photos_everywhere(tree):
    scanned = {os.path.basename(p) for p in files.find_photos([tree], recursive=False)}
    assert {"c.jfif", "d.jpe", "e.mpo"} <= scanned
    assert all(files.is_photo(n) for n in ("x.JFIF", "x.jpe", "x.mpo", "x.tif", "x.heif"))
    assert not files.is_photo("notes.txt")


def test_the_grid_lists_exactly_what_a_scan_scans(tree, tmp_path):
    for recursive in (True, False):
        listed = [p.path for p in files.list_photos(str(tree), recursive)]
        with Library.open(tmp_path / f"library-{recursive}.sqlite3") as lib:
            scanned = [r.path for r in inventory.refresh_photos(lib, [tree], recursive)]
        assert listed == scanned == files.find_photos([tree], recursive)
    names = {os.path.basename(p) for p in files.find_photos([tree])}
    assert names == {"a.jpg", "b.JPEG", "c.jfif", "d.jpe", "e.mpo", "f.heic", "h.png", "j.webp"}


def test_hidden_files_and_folders_are_skipped_by_the_scan_the_grid_and_the_counts(tree):
    counts = dict(files.count_tree(str(tree)).counts)
    assert counts == {".": 6, "sub": 1, os.path.join("sub", "deeper"): 1}  # no .g.jpg, .i.png
    listed = files.list_photos(str(tree), recursive=True)
    for rel, n in counts.items():
        folder = os.path.normpath(os.path.join(tree, rel))
        assert n == sum(1 for p in listed if os.path.dirname(p.path) == folder)
    assert not any(os.sep + ".hidden" + os.sep in p.path or p.name.startswith(".") for p in listed)


def test_unreadable_folders_are_reported_by_the_one_walk(tree, monkeypatch):
    """Tests run as root: os.scandir raises for one folder instead of a chmod."""
    sub = str(tree / "sub")
    real = os.scandir

    def denied(path="."):
        if os.fspath(path) == sub:
            raise PermissionError(13, "Permission denied", sub)
        return real(path)

    monkeypatch.setattr(os, "scandir", denied)
    blocked: list[files.PhotoFailure] = []
    listed = files.list_photos(str(tree), True, blocked)
    assert [b.path for b in blocked] == [sub] and "Permission denied" in blocked[0].reason
    assert not any(p.path.startswith(sub + os.sep) for p in listed)
    gone: list[files.PhotoFailure] = []
    assert files.find_photos([tree / "not-there"], True, gone) == [] and gone == []


def test_exif_date_of_a_fifo_is_none_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    assert files.exif_taken(str(fifo)) is None
    assert [p.name for p in files.list_photos(str(tmp_path), True)] == ["pipe.jpg"]
