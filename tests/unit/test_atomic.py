"""The atomic-write helper and the regular-file reader (issue 10, items 1 and 2)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from blipdesk.infra.atomic import (
    TEMP_MARK,
    RefusedTarget,
    read_regular,
    remove_stale_temporaries,
    write_atomic,
)

ROOT = Path(__file__).resolve().parents[2]


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if TEMP_MARK in p.name]


def test_replaces_a_regular_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    os.chmod(target, 0o600)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and _temps(tmp_path) == []
    assert target.stat().st_mode & 0o777 == 0o600  # the old file's permissions are kept
    write_atomic(tmp_path / "fresh.json", b"x")
    assert (tmp_path / "fresh.json").read_bytes() == b"x"


def test_a_symlink_stays_and_its_file_is_replaced(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    (tmp_path / "link.json").symlink_to(real)
    write_atomic(tmp_path / "link.json", b"new")
    assert (tmp_path / "link.json").is_symlink() and real.read_bytes() == b"new"


@pytest.mark.parametrize("how", ["same", "inside", "symlink", "hardlink", "dotdot"])
def test_owned_files_are_refused_however_they_are_spelled(tmp_path, how):
    data = tmp_path / "data"
    data.mkdir()
    db = data / "library.sqlite3"
    db.write_bytes(b"SQLite format 3\0 precious")
    (data / "features").mkdir()
    target = {
        "same": db,
        "inside": data / "features" / "new.json",
        "symlink": tmp_path / "innocent.json",
        "hardlink": tmp_path / "also-innocent.json",
        "dotdot": data / "features" / ".." / "library.sqlite3-wal",
    }[how]
    if how == "symlink":
        target.symlink_to(db)
    elif how == "hardlink":
        os.link(db, target)
    with pytest.raises(RefusedTarget, match="blipdesk's own file"):
        write_atomic(target, b"[]", protect=[data])
    assert db.read_bytes() == b"SQLite format 3\0 precious"
    assert _temps(data) == [] and _temps(tmp_path) == []


def test_a_folder_is_refused_before_anything_is_created(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(RefusedTarget, match="folder"):
        write_atomic(folder, b"x")
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_character_devices_are_written_through_not_replaced():
    write_atomic("/dev/null", b"x" * 100_000)
    assert Path("/dev/null").is_char_device()


def test_a_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, b"through the pipe")
    reader.join(10)
    assert got == [b"through the pipe"] and fifo.is_fifo()


def test_dev_stdout_writes_to_the_descriptor(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("kept ")
    code = "from blipdesk.infra.atomic import write_atomic; write_atomic('/dev/stdout', b'hello')"
    with open(out, "ab") as fh:  # ">>": appended, never truncated or replaced
        subprocess.run([sys.executable, "-c", code], stdout=fh, check=True, cwd=ROOT)
    assert out.read_text() == "kept hello"
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, cwd=ROOT)
    assert piped.stdout == b"hello"


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")
    real_write = os.write

    def full(fd, data):
        if len(data) > 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"x" * 1000)
    assert target.read_text() == "old" and _temps(tmp_path) == []


def test_a_really_full_disk_keeps_the_old_file(small_mount):
    target = small_mount / "out.json"
    target.write_text("old")
    with pytest.raises(OSError) as info:
        write_atomic(target, b"x" * (2 << 20))
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old" and _temps(small_mount) == []


_SLOW_WRITER = """
import os, signal, sys, time
from blipdesk.infra import atomic
# as from a terminal, whatever the test runner's own SIGHUP (ignored under nohup); argv[2]:
# "ignore-hup" starts the writer the way nohup does
signal.signal(signal.SIGHUP, signal.SIG_IGN if sys.argv[2:] == ["ignore-hup"] else signal.SIG_DFL)
def stuck(fd):
    print("writing", flush=True)
    time.sleep(60)
atomic.os.fsync = stuck
atomic.write_atomic(sys.argv[1], b"new" * 1000)
"""


def test_a_signal_the_process_ignores_leaves_the_write_alone(tmp_path):
    # under nohup SIGHUP is ignored: the writer must not take it over and abort the write
    target = tmp_path / "out.json"
    target.write_text("old")
    with subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(target), "ignore-hup"],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
        proc.send_signal(signal.SIGHUP)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(1)  # still writing: the hang-up was ignored, as it would have been
        assert len(_temps(tmp_path)) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == -signal.SIGTERM
    assert target.read_text() == "old" and _temps(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_killed_mid_write_the_old_file_stays(tmp_path, sig):
    target = tmp_path / "out.json"
    target.write_text("old")
    with subprocess.Popen(  # closes the pipe however the test ends
        [sys.executable, "-c", _SLOW_WRITER, str(target)], stdout=subprocess.PIPE, cwd=ROOT
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
        assert len(_temps(tmp_path)) == 1
        proc.send_signal(sig)
        assert proc.wait(30) == -sig  # the signal still ends the process as it would have
    assert target.read_text() == "old"
    if sig != signal.SIGKILL:
        assert _temps(tmp_path) == []  # removed by the handler
    else:
        assert len(_temps(tmp_path)) == 1  # nobody could remove it: the next write does
        write_atomic(target, b"next")
        assert target.read_bytes() == b"next" and _temps(tmp_path) == []


def test_temporaries_of_running_processes_are_left_alone(tmp_path):
    target = tmp_path / "out.json"
    mine = tmp_path / f".out.json{TEMP_MARK}{os.getppid()}-abcd"
    gone = tmp_path / f".out.json{TEMP_MARK}999999999-abcd"
    mine.write_text("in flight")
    gone.write_text("left over")
    assert remove_stale_temporaries(target) == [gone.name]
    assert mine.exists()


def test_read_regular_refuses_fifos_devices_and_huge_files(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # no writer: a plain open() would block forever
    started = time.monotonic()
    with pytest.raises(OSError, match="not a regular file"):
        read_regular(fifo, 100)
    assert time.monotonic() - started < 5
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(OSError, match="not a regular file"):
        read_regular(tmp_path / "zero", 100)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(OSError, match="too large"):
        read_regular(big, 100)
    big.write_bytes(b"x" * 100)
    assert read_regular(big, 100) == b"x" * 100
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing", 100)
