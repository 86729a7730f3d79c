"""The item models pass qtmodeltester, and filter/sort/threshold behave."""

from __future__ import annotations

from blipdesk.core.files import count_tree
from blipdesk.qt.common.values import Photo, PhotoScores, ScoreBoard, SentenceScore, Tag
from blipdesk.qt.models.folders import FolderTreeModel
from blipdesk.qt.models.photos import FilterState, PhotoGridModel, Roles, SortState
from blipdesk.qt.models.tags import TagListModel, TagRoles


def _photos(n=6):
    return [Photo(f"/p/{i}.jpg", f"{i}.jpg", 1000 + i, 100.0 - i) for i in range(n)]


def _board(photos):
    board = ScoreBoard()
    board.merge(
        PhotoScores(p.path, {"a dog": SentenceScore(i / 10, 0.1 * i, 0.0, 0.0)})
        for i, p in enumerate(photos)
    )
    return board


def test_photo_model_passes_modeltester(qtmodeltester):
    photos = _photos()
    model = PhotoGridModel(_board(photos))
    model.set_tags([Tag("dog", ("a dog",), 0.3, "#ff0000")])
    model.set_photos(photos)
    qtmodeltester.check(model)
    model.set_filter(FilterState(chips=(("dog", "and"),)))
    qtmodeltester.check(model)


def test_filter_sort_and_threshold():
    photos = _photos()
    board = _board(photos)
    model = PhotoGridModel(board)
    tag = Tag("dog", ("a dog",), 0.3, "#ff0000")
    model.set_tags([tag])
    model.set_photos(photos)
    model.set_sort(SortState("score", "dog"))
    assert model.photo_at(0).name == "5.jpg"
    model.set_sort(SortState("date"))
    assert model.photo_at(0).name == "5.jpg"  # oldest mtime first
    model.set_filter(FilterState(chips=(("dog", "and"),)))
    assert model.rowCount() == 3  # 0.3, 0.4, 0.5
    assert model.index(0).data(Roles.TagColours) == ["#ff0000"]
    model.set_tags([Tag("dog", ("a dog",), 0.45, "#ff0000")])
    assert model.rowCount() == 1
    model.set_filter(FilterState(chips=(("dog", "not"),)))
    assert model.rowCount() == 5
    model.set_filter(FilterState(search={"/p/1.jpg": 0.9, "/p/2.jpg": 0.95}, search_text="x"))
    assert [model.photo_at(i).name for i in range(model.rowCount())] == ["2.jpg", "1.jpg"]
    assert "dog" in model.index(0).data(0x0003)  # tooltip shows the tag score


def test_tag_model_passes_modeltester_and_counts(qtmodeltester):
    photos = _photos()
    model = TagListModel(_board(photos))
    model.set_tags([Tag("dog", ("a dog",), 0.3), Tag("cat", ("a cat",), 0.5)])
    model.set_paths(p.path for p in photos)
    qtmodeltester.check(model)
    dog = model.index(model.row_of("dog"))
    assert dog.data(TagRoles.Count) == 3 and dog.data(TagRoles.Scored) == 6
    assert model.setData(dog, 0.05, TagRoles.Threshold)
    assert dog.data(TagRoles.Count) == 5


def test_folder_model_passes_modeltester(qtmodeltester, photo_dir):
    model = FolderTreeModel()
    model.add_root(str(photo_dir))
    model.set_counts(count_tree(str(photo_dir)))
    qtmodeltester.check(model)
    root = model.index(0, 0)
    assert "(10)" in root.data()
    assert model.rowCount(root) == 1 and "(3)" in model.index(0, 0, root).data()


def test_folder_model_keeps_qobject_parent():
    """``parent()`` without an index is QObject.parent(), not an invalid index (mypy found it)."""
    from PySide6.QtCore import QObject

    owner = QObject()
    model = FolderTreeModel(owner)
    assert model.parent() is owner
    assert not model.parent(model.index(0, 0)).isValid()
