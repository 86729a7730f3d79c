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

from blipdesk.infra import atomic
from blipdesk.infra.atomic import (
    TEMP_PREFIX,
    Expected,
    RefusedTarget,
    TargetChanged,
    host_id,
    read_regular,
    remove_stale_temporaries,
    write_atomic,
)

ROOT = Path(__file__).resolve().parents[2]


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


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


def test_a_handler_that_stops_later_lets_the_write_finish(tmp_path, monkeypatch):
    """The CLI's SIGTERM handler asks the run to stop after the sidecar in flight: the write in
    flight then finishes (only a signal left at its default, which would end the process, is
    taken over to remove the temporary)."""
    target = tmp_path / "out.xmp"
    target.write_text("old")
    asked: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: asked.append(signum))
    real_fsync, sent = os.fsync, []

    def signalled(fd):
        if not sent:  # while the temporary is written (the folder's fsync comes after)
            sent.append(os.kill(os.getpid(), signal.SIGTERM))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", signalled)
    try:
        write_atomic(target, b"new")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert asked == [signal.SIGTERM]
    assert target.read_bytes() == b"new" and _temps(tmp_path) == []


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


def _temp(folder: Path, pid: int, host: str | None = None) -> Path:
    path = folder / f"{TEMP_PREFIX}{host or host_id()}-{pid}-abcd1234.tmp"
    path.write_text("half a file")
    return path


def _dead_pid() -> int:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


def test_temporaries_of_running_processes_are_left_alone(tmp_path):
    running = _temp(tmp_path, os.getppid())
    gone = _temp(tmp_path, _dead_pid())
    # named as before sidecars and the rest shared one writer: still this host's leftovers
    old_running = tmp_path / f".out.json{TEMP_PREFIX}{os.getppid()}-abcd1234"
    old_gone = tmp_path / f".out.json{TEMP_PREFIX}999999999-abcd1234"
    for path in (old_running, old_gone):
        path.write_text("half a file")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([gone, old_gone])
    assert running.exists() and old_running.exists()


def test_a_folder_is_swept_once_per_process(tmp_path, monkeypatch):
    """The vision cache writes hundreds of files a second into one folder: listing the folder
    before each write made a scan quadratic. The first write sweeps; later ones do not."""
    sweeps: list[str] = []
    real_sweep = atomic.remove_stale_temporaries

    def counted(folder):
        sweeps.append(os.fspath(folder))
        return real_sweep(folder)

    monkeypatch.setattr(atomic, "remove_stale_temporaries", counted)
    leftover = _temp(tmp_path, _dead_pid())
    write_atomic(tmp_path / "a.bin", b"a", durable=False)
    assert sweeps == [os.path.realpath(tmp_path)] and not leftover.exists()
    again = _temp(tmp_path, _dead_pid())  # a later leftover waits for the next process
    write_atomic(tmp_path / "b.bin", b"b", durable=False)
    write_atomic(tmp_path / "a.bin", b"aa", durable=False)
    assert len(sweeps) == 1 and again.exists()
    other = tmp_path / "other"
    other.mkdir()
    write_atomic(other / "c.bin", b"c")
    assert sweeps[1:] == [os.path.realpath(other)]


def test_off_posix_a_temporary_is_stale_only_by_age(tmp_path, monkeypatch):
    """On Windows os.kill(pid, 0) terminates the process: off POSIX no signal is ever sent, any
    writer counts as alive, and a temporary is removed only once it is a day old."""

    def kill(pid, sig):
        raise AssertionError(f"os.kill({pid}, {sig}) would terminate the process on Windows")

    monkeypatch.setattr(atomic, "_POSIX", False)
    monkeypatch.setattr(os, "kill", kill)
    dead = _dead_pid()
    assert atomic.alive(dead)
    fresh, old = _temp(tmp_path, dead), _temp(tmp_path, dead, host="00000000")
    os.utime(old, (0, 0))
    assert remove_stale_temporaries(tmp_path) == [old]
    write_atomic(tmp_path / "out.json", b"x")
    assert fresh.exists() and (tmp_path / "out.json").read_bytes() == b"x"


def test_alive_on_posix_asks_without_a_signal():
    assert atomic.alive(os.getpid()) and atomic.alive(1)  # PID 1: someone else's, running
    assert not atomic.alive(_dead_pid())


def test_a_new_file_gets_what_open_would_give_it(tmp_path):
    old = os.umask(0o002)
    try:
        write_atomic(tmp_path / "new.json", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o664


def test_expected_content_is_checked_before_the_replace(tmp_path):
    target = tmp_path / "out.xmp"
    target.write_bytes(b"read")
    write_atomic(target, b"mine", expect=Expected.of(b"read"))
    assert target.read_bytes() == b"mine"
    target.write_bytes(b"theirs")  # changed by someone else since "mine" was read
    with pytest.raises(TargetChanged, match="changed since it was read") as info:
        write_atomic(target, b"again", expect=Expected.of(b"mine"))
    assert info.value.reason == "changed since it was read"
    assert target.read_bytes() == b"theirs" and _temps(tmp_path) == []


def test_a_file_expected_absent_is_never_replaced(tmp_path, monkeypatch):
    target = tmp_path / "new.xmp"
    write_atomic(target, b"first", expect=Expected.of(None))
    assert target.read_bytes() == b"first"
    with pytest.raises(TargetChanged, match="appeared since it was read"):
        write_atomic(target, b"second", expect=Expected.of(None))
    # It appears between the last check and the move: the hard link refuses to replace it.
    real_check = atomic._check_expected

    def late(spelled, real, expect):
        real_check(spelled, real, expect)
        Path(real).write_bytes(b"theirs")

    monkeypatch.setattr(atomic, "_check_expected", late)
    with pytest.raises(TargetChanged, match="appeared"):
        write_atomic(tmp_path / "late.xmp", b"mine", expect=Expected.of(None))
    assert (tmp_path / "late.xmp").read_bytes() == b"theirs" and _temps(tmp_path) == []


def test_an_expected_file_turned_fifo_is_not_written_through(tmp_path):
    fifo = tmp_path / "out.xmp"
    os.mkfifo(fifo)
    with pytest.raises(TargetChanged, match="no longer a regular file"):
        write_atomic(fifo, b"x", expect=Expected.of(b"old"))
    assert fifo.is_fifo() and _temps(tmp_path) == []


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
