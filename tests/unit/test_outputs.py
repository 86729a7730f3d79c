"""An output never replaces a file blipdesk reads (issue 24, item 1): the guard's rule, case by
case; tests/e2e/test_cli_outputs.py tries every command that writes ``--output``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from blipdesk.infra.atomic import RefusedTarget
from blipdesk.services.outputs import OutputGuard


class _Known:
    def __init__(self, *paths: Path) -> None:
        self.paths = [os.path.realpath(p) for p in paths]

    def photo_paths_in(self, folder: str) -> list[str]:
        return [p for p in self.paths if os.path.dirname(p) == folder]

    def photo_paths_of_size(self, size: int) -> list[str]:
        return [p for p in self.paths if os.path.getsize(p) == size]


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"jpeg a")
    (photos / "a.jpg.xmp").write_text("<x:xmpmeta/>")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    data = tmp_path / "data"
    data.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "cached.jpg").write_bytes(b"jpeg known to the cache")
    return {"photos": photos, "model": model, "data": data, "elsewhere": elsewhere}


def _guard(place: dict[str, Path], **kw: object) -> OutputGuard:
    return OutputGuard(
        data_dir=place["data"],
        folders=(place["photos"],),
        model_dir=place["model"],
        known=_Known(place["elsewhere"] / "cached.jpg"),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "target, why",
    [
        ("photos/a.jpg", "a photo"),
        ("photos/a.jpg.xmp", "XMP sidecar"),
        ("model/config.json", "model in use"),
        ("model/new.bin", "model in use"),
        ("data/library.sqlite", "data folder"),
        ("elsewhere/cached.jpg", "a photo"),
    ],
)
def test_every_file_blipdesk_reads_is_refused_by_name(place, target, why):
    path = place["photos"].parent / target
    with pytest.raises(RefusedTarget, match=why) as caught:
        _guard(place).check(path, picture=True)
    assert str(path.name) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_symbolic_and_hard_links_to_photos_are_refused(place, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "link.png").symlink_to(place["photos"] / "a.jpg")
    os.link(place["photos"] / "a.jpg", out / "hard.png")
    os.link(place["elsewhere"] / "cached.jpg", out / "hard-cached.png")
    for name in ("link.png", "hard.png", "hard-cached.png"):
        with pytest.raises(RefusedTarget, match="a photo"):
            _guard(place).check(out / name, picture=True)


def test_a_new_file_or_an_unrelated_one_is_fine(place, tmp_path):
    guard = _guard(place)
    guard.check(tmp_path / "map.png", picture=True)
    guard.check(tmp_path / "tags.csv")
    (tmp_path / "old.csv").write_text("x")
    guard.check(tmp_path / "old.csv")
    guard.check(place["photos"] / "notes.txt")  # a new file beside the photos: not a photo


@pytest.mark.parametrize("name", ["x.png", "x.JPG", "x.dng", "x.heic"])
def test_an_export_with_a_photo_suffix_is_refused(place, tmp_path, name):
    with pytest.raises(RefusedTarget, match="not a photo"):
        _guard(place).check(tmp_path / name)
    _guard(place).check(tmp_path / name, picture=True)  # explain's map is a picture
