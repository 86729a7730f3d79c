"""Reading a cache in a read-only data folder (issue 10, item 9): SQLite opens a WAL database
read-only only where its -shm exists or can be created, so the store picks how to open it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from blipdesk.domain import Tag
from blipdesk.store import Library
from blipdesk.store.schema import ReadOnlyCacheError


def _remount(where, mode: str) -> None:
    got = subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], capture_output=True)
    if got.returncode != 0:
        pytest.skip(f"cannot remount {mode}: {got.stderr.decode().strip()}")


@pytest.fixture
def read_only(small_mount):
    """Remount ``small_mount`` read-only for the test body, read-write again afterwards."""

    def make():
        _remount(small_mount, "ro")

    yield make
    subprocess.run(["mount", "-o", "remount,rw", str(small_mount)], check=False)


def _tags(db) -> list[str]:
    with Library.open(db, readonly=True) as lib:
        return [t.name for t in lib.tags()]


def test_a_cleanly_closed_cache_is_read_and_writes_say_read_only(small_mount, read_only):
    db = small_mount / "library.sqlite3"
    with Library.open(db) as lib:
        lib.put_tag(Tag("dog", ("a dog",)))
    assert sorted(p.name for p in small_mount.iterdir()) == ["library.sqlite3"]  # no -shm
    read_only()
    assert _tags(db) == ["dog"]
    with pytest.raises(ReadOnlyCacheError, match="read-only"):
        Library.open(db)


def _copy_with_wal(tmp_path, small_mount, keep_shm: bool):
    """A cache whose last commits are still in its -wal (a crash, or a copy of a live cache)."""
    src = tmp_path / "live"
    src.mkdir()
    lib = Library.open(src / "library.sqlite3")
    lib.conn.execute("PRAGMA wal_autocheckpoint=0")
    lib.put_tag(Tag("dog", ("a dog",)))
    lib.put_tag(Tag("cat", ("a cat",)))
    for suffix in ("", "-wal", "-shm") if keep_shm else ("", "-wal"):
        shutil.copy(src / f"library.sqlite3{suffix}", small_mount / f"library.sqlite3{suffix}")
    lib.close()
    return small_mount / "library.sqlite3"


def test_commits_still_in_the_wal_are_read(tmp_path, small_mount, read_only):
    db = _copy_with_wal(tmp_path, small_mount, keep_shm=True)
    read_only()
    assert _tags(db) == ["cat", "dog"]


def test_a_wal_without_its_index_is_refused_not_ignored(tmp_path, small_mount, read_only):
    db = _copy_with_wal(tmp_path, small_mount, keep_shm=False)
    read_only()
    with pytest.raises(ReadOnlyCacheError, match="open it once where it is writable"):
        _tags(db)
