"""Export by copy or symlink: never overwrite, name collisions become "photo (2).jpg"."""

from __future__ import annotations

import os
import threading

import pytest

from blipdesk.infra.errors import UserError
from blipdesk.services.copying import ExportMode, candidate_names, copy_or_link


@pytest.fixture
def photos(tmp_path):
    a, b = tmp_path / "src" / "a", tmp_path / "src" / "b"
    a.mkdir(parents=True)
    b.mkdir()
    files = [a / "photo.jpg", b / "photo.jpg", a / "other.png"]
    for n, f in enumerate(files):
        f.write_bytes(f"content {n}".encode())
    return files


def test_candidate_names():
    names = candidate_names("photo.jpg")
    assert [next(names) for _ in range(3)] == ["photo.jpg", "photo (2).jpg", "photo (3).jpg"]
    assert list(candidate_names("README"))[1] == "README (2)"


def test_copy_resolves_collisions_and_never_overwrites(photos, tmp_path):
    dest = tmp_path / "out" / "nested"
    results = copy_or_link(photos, dest)
    assert [r.target.name for r in results] == ["photo.jpg", "photo (2).jpg", "other.png"]
    assert all(r.ok for r in results)
    assert (dest / "photo (2).jpg").read_bytes() == b"content 1"
    assert os.stat(dest / "photo.jpg").st_mtime == pytest.approx(os.stat(photos[0]).st_mtime)
    again = copy_or_link(photos[:1], dest)
    assert again[0].target.name == "photo (3).jpg"
    assert (dest / "photo.jpg").read_bytes() == b"content 0"
    assert [p.read_bytes() for p in photos] == [b"content 0", b"content 1", b"content 2"]


def test_existing_unrelated_file_is_kept(photos, tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "photo.jpg").write_bytes(b"mine")
    results = copy_or_link(photos[:1], dest, "copy")
    assert results[0].target == dest / "photo (2).jpg"
    assert (dest / "photo.jpg").read_bytes() == b"mine"


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_symlink(photos, tmp_path):
    dest = tmp_path / "links"
    results = copy_or_link(photos, dest, mode=ExportMode.SYMLINK)
    assert [r.target.name for r in results] == ["photo.jpg", "photo (2).jpg", "other.png"]
    for r in results:
        assert r.target.is_symlink() and r.target.resolve() == r.source.resolve()
    dangling = dest / "other (2).png"
    dangling.symlink_to(tmp_path / "gone.png")  # a broken link still takes the name
    assert copy_or_link(photos[2:], dest, "symlink")[0].target.name == "other (3).png"


def test_missing_source_is_reported_and_the_rest_go_on(photos, tmp_path):
    missing = tmp_path / "src" / "missing.jpg"
    results = copy_or_link([missing, photos[0]], tmp_path / "out")
    assert not results[0].ok and results[0].target is None and "not found" in results[0].error
    assert results[1].ok


def test_progress_and_cancel(photos, tmp_path):
    seen, cancel = [], threading.Event()

    def progress(done, total):
        seen.append((done, total))
        cancel.set()

    results = copy_or_link(photos, tmp_path / "out", progress=progress, cancel=cancel)
    assert seen == [(1, 3)] and len(results) == 1


def test_bad_mode_and_destination(photos, tmp_path):
    with pytest.raises(UserError, match="export mode"):
        copy_or_link(photos, tmp_path / "out", mode="move")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError):
        copy_or_link(photos, tmp_path / "file")
