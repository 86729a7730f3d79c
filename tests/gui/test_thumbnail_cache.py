"""The thumbnail disk cache is written through blipdesk's one atomic writer."""

from __future__ import annotations

import os

from blipdesk.core.files import Photo
from blipdesk.qt.workers import thumbnails
from tests.helpers.models import scene


def test_a_thumbnail_is_cached_atomically_and_read_back(qtbot, tmp_path, monkeypatch):
    path = tmp_path / "p.jpg"
    scene(320, 240, 3).save(path)
    st = os.stat(path)
    photo = Photo(str(path), path.name, st.st_size, st.st_mtime)
    cache = tmp_path / "thumbs"
    written = []
    real = thumbnails.write_atomic
    monkeypatch.setattr(
        thumbnails, "write_atomic", lambda t, d, **kw: (written.append(t), real(t, d, **kw))
    )
    first = thumbnails.load_or_render(cache, photo, 64)
    target = thumbnails.cache_file(cache, photo, 64)
    assert written == [target] and target.is_file()
    assert os.listdir(target.parent) == [target.name]  # no temporary left beside it
    monkeypatch.setattr(thumbnails, "render_thumbnail", lambda *a: 1 / 0)  # read, not rendered
    again = thumbnails.load_or_render(cache, photo, 64)
    assert (again.width(), again.height()) == (first.width(), first.height())
