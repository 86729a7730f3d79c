"""Another blipdesk process holding the cache's write lock longer than SQLite's busy timeout
(issue 24, item 14): every write waits for it as long as it takes, says once whom it waits for,
can be cancelled, and lands afterwards; a scan keeps its batches and finishes; an import commits
in bounded transactions. The timeout is shortened (0.2 s) and the other process releases the lock
only once the waiting line was said: held longer than the timeout, without a clock in the test."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from blipdesk.domain import ScoreRow, Tag
from blipdesk.store import Library
from blipdesk.store.write_lock import Waiting, WriteCancelled, holder, writer_file
from tests.helpers.lock_holder import (  # noqa: F401 (short_lock_timeout: a fixture)
    other_writer,
    released_when_waiting,
    short_lock_timeout,
)
from tests.helpers.results import cli, mixed_folder, results_of

pytestmark = pytest.mark.usefixtures("short_lock_timeout")


@pytest.fixture
def release():
    """The other process goes once a write says it waits for it (held past the timeout)."""
    with released_when_waiting() as handler:
        yield handler


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "library.sqlite3"
    Library.open(path).close()
    return path


def test_a_write_waits_past_the_timeout_says_whom_it_waits_for_once_and_lands(db, release):
    with Library.open(db) as lib, other_writer(db, "stdin") as other:
        release.process = other
        lib.put_tag(Tag("dog", ("a dog",)))  # the old code: "database is locked" after 0.2 s
        assert [t.name for t in lib.tags()] == ["dog"]
    assert release.lines == [
        f"waiting for another blipdesk process (PID {other.pid}) to finish writing"
    ]


def test_the_wait_can_be_cancelled_and_nothing_is_written(db):
    cancel = threading.Event()
    heard: list[str] = []

    def say(text: str) -> None:
        heard.append(text)
        cancel.set()  # the window's Cancel, pressed when the status line says it waits

    with Library.open(db) as lib, other_writer(db, "stdin") as other:
        lib.waiting = Waiting(cancel, say)
        with pytest.raises(WriteCancelled):
            lib.put_tag(Tag("dog", ("a dog",)))
        assert other.stdin is not None
        other.stdin.write("go\n")
        other.stdin.flush()
    assert heard == [f"waiting for another blipdesk process (PID {other.pid}) to finish writing"]
    with Library.open(db, readonly=True) as lib:
        assert lib.tags() == []


def test_a_writer_that_is_gone_is_not_named(db):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    writer_file(db).write_text(str(gone.pid))
    assert holder(db) is None
    writer_file(db).write_text("not a pid")
    assert holder(db) is None


def test_a_scan_keeps_its_batches_and_the_batch_in_flight_lands_after_the_wait(
    tmp_path, tiny_model_dir, monkeypatch, release, capsys
):
    """The other process takes the lock between the scan's first and second batch (one photo
    each) and keeps it past the timeout: the scan waits, says so once, and ends with every score,
    the same as a scan nobody disturbed."""
    photos = mixed_folder(tmp_path)
    common = ["--model", tiny_model_dir, "--device", "cpu", "--precision", "fp32"]
    common += ["--batch-size", "1"]
    reference = tmp_path / "reference"
    assert cli(reference, "tags", "add", "dog", "a dog on a beach") == 0
    assert cli(reference, "scan", photos, *common) == 0
    data = tmp_path / "data"
    assert cli(data, "tags", "add", "dog", "a dog on a beach") == 0
    real = Library.write_batch
    calls: list[int] = []
    holding = []

    def write_batch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first batch is stored; another process takes the lock now
            holding.append(other_writer(data / "library.sqlite3", "stdin"))
            release.process = holding[0].__enter__()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Library, "write_batch", write_batch)
    capsys.readouterr()
    try:
        assert cli(data, "scan", photos, *common) == 0
    finally:
        for held in holding:
            held.__exit__(None, None, None)
    err = capsys.readouterr().err
    pid = release.process.pid if release.process is not None else None
    line = f"waiting for another blipdesk process (PID {pid}) to finish writing"
    assert err.count(line) == 1, err
    assert release.lines == [line]
    got, want = results_of(data, tiny_model_dir), results_of(reference, tiny_model_dir)
    assert set(got) == set(want) and len(got) >= 9
    assert all(got[c][0].keys() == want[c][0].keys() for c in want)


def test_an_import_commits_chunk_by_chunk(db):
    """Each chunk of ``results import`` is its own transaction: the first one is committed (seen
    by another connection) before the next is read; the lock is free between them."""
    seen: list[int] = []

    def chunks():
        for n in range(3):
            rows = [ScoreRow(f"c{n}", "a dog", 0.5, 0.1, 0.2, 0.3)]
            yield rows, {f"c{n}": np.zeros(4, np.float32)}, {}
            with Library.open(db) as other:
                seen.append(other.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0])
                other.waiting = Waiting(threading.Event())
                other.waiting.cancel.set()  # this thread holding the lock would wait for ever
                other.put_tag(Tag(f"t{n}", ("x",)))  # another writer gets in between chunks

    with Library.open(db) as lib:
        added = lib.merge_results("dir:m|first=cls|decode=1", "/m", None, chunks())
    assert added == (3, 3, 0)
    assert seen == [1, 2, 3]
    with Library.open(db, readonly=True) as lib:
        assert [t.name for t in lib.tags()] == ["t0", "t1", "t2"]


def test_ctrl_c_ends_the_wait(db):
    """Ctrl+C in the command line (a KeyboardInterrupt in the main thread, raised here when the
    waiting line is said) ends the wait at once; nothing is written."""
    import _thread

    with Library.open(db) as lib, other_writer(db, "stdin") as other:
        lib.waiting = Waiting(say=lambda _text: _thread.interrupt_main())
        with pytest.raises(KeyboardInterrupt):
            lib.put_tag(Tag("dog", ("a dog",)))
        assert other.stdin is not None
        other.stdin.write("go\n")
        other.stdin.flush()
    with Library.open(db, readonly=True) as lib:
        assert lib.tags() == []
