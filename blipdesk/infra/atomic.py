"""Writing and reading files that may be hostile: one helper for each direction.

``write_atomic(target, data, protect=..., expect=...)`` is how blipdesk writes a whole file (the
settings, smart views, exports, results files, the vision cache, thumbnails, XMP sidecars):

* a regular file (or a new name) is written to a temporary file beside it, flushed, fsynced and
  moved over the target with ``os.replace``: a crash, a full disk or a signal leaves the old file
  as it was. The old file's permissions are kept; a new file gets ``0o666`` less the umask, as
  ``open()`` would. A symbolic link is followed, so the link stays and the file it points at is
  replaced;
* ``expect`` (:class:`Expected`): the target must still be what the caller read, checked just
  before the move (a few microseconds remain: no portable compare-and-swap on files). A target
  expected absent is linked into place, so a file that appeared meanwhile is never replaced.
  Otherwise :class:`TargetChanged`, and nothing is written. Such a target is never written
  through, whatever it has become;
* a character device or a FIFO (``/dev/stdout``, ``/dev/null``, a named pipe) is written through,
  never replaced by a file; ``/dev/stdout``, ``/dev/stderr`` and ``/dev/fd/N`` write to the
  process's own descriptor, so ``> file`` and ``>> file`` redirections behave as the shell means;
* a folder, a block device or a socket is refused before anything is created;
* anything under ``protect`` (blipdesk's data folder, its database) is refused, whatever the
  spelling: the real path is compared (symbolic links), and so is the file's identity
  (``st_dev``, ``st_ino``: hard links).

Temporaries are named ``.blipdesk-tmp-<host>-<pid>-<random>.tmp`` (short, whatever the target's
name: a 250-byte file name leaves no room for a longer one). They are removed when the write
fails, on a terminating signal during the write (the signal is then delivered as before), and,
for a ``kill -9`` or a power cut, by :func:`remove_stale_temporaries`: a folder is swept the first
time this process writes into it (once: the vision cache writes hundreds of files a second into
one folder), and when a caller asks (a sidecar run sweeps the folders it will write, and reports
what it removed).

``read_regular(path, limit)`` reads a file only when it is a regular file (a FIFO would block
forever, ``/dev/zero`` never ends) and at most ``limit`` bytes long.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import secrets
import signal
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from blipdesk.infra.errors import UserError

# blipdesk's temporary files: hidden, with a prefix no other program uses, the host and the PID of
# the writer, so a later run can tell its own leftovers (the writer is gone) from anything else.
TEMP_PREFIX = ".blipdesk-tmp-"
_TEMP_NAME = re.compile(r"\.blipdesk-tmp-([0-9a-f]{8})-(\d+)-[a-z0-9_]+\.tmp\Z")
# How the temporaries of settings, exports and caches were named before sidecars and everything
# else shared one writer (``.NAME.blipdesk-tmp-PID-RANDOM``): still recognised, as this host's.
_OLD_TEMP_NAME = re.compile(r"\..+\.blipdesk-tmp-(\d+)-[0-9a-f]{8}\Z")
STALE_TEMP_SECONDS = 24 * 3600  # older than any write can take, whoever the PID is now
# os.kill(pid, 0) only asks about a process on POSIX; on Windows it terminates the process.
_POSIX = os.name == "posix"
_FD_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd)/(\d+)$")
_STD_PATHS = {"/dev/stdout": 1, "/dev/stderr": 2}
# What signal.signal() returns: a handler, SIG_DFL / SIG_IGN, or None (set outside Python).
_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)

StrPath = str | os.PathLike[str]


class RefusedTarget(UserError):
    """The target is one of blipdesk's own files, or cannot hold a file (a folder)."""


class TargetChanged(UserError):
    """The target is no longer what the caller read (:class:`Expected`); nothing was written.
    ``reason`` says how, without the path: "changed since it was read", "appeared since it was
    read"."""

    def __init__(self, spelled: str, reason: str) -> None:
        super().__init__(f"{spelled}: {reason}; nothing was written")
        self.reason = reason


@dataclass(frozen=True)
class Expected:
    """What a target must still be when it is replaced: the SHA-256 of its bytes, or ``None``
    for no file at all. :meth:`of` makes it from what was read."""

    sha256: str | None = None

    @classmethod
    def of(cls, data: bytes | None) -> Expected:
        """The expectation for a file read as ``data`` (``None``: there was none)."""
        return cls(None if data is None else hashlib.sha256(data).hexdigest())


def write_atomic(
    target: StrPath,
    data: bytes,
    *,
    protect: Iterable[StrPath] = (),
    durable: bool = True,
    expect: Expected | None = None,
) -> None:
    """Write ``data`` as the whole content of ``target``; see the module docstring.

    ``durable=False`` skips the fsyncs, for derived data that is checked when read (the vision
    cache: a power cut may lose the last files, never put a half file under the final name
    unnoticed), where an fsync per file would slow a GPU scan of hundreds of photos a second.
    ``expect``: refuse with :class:`TargetChanged` unless the target is still that."""
    spelled = os.fspath(target)
    fd = _own_descriptor(spelled) if expect is None else None
    if fd is not None:
        _write_all(fd, data)
        return
    real = os.path.realpath(spelled)
    _refuse_owned(spelled, real, protect)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if expect is not None:
            raise TargetChanged(spelled, "is no longer a regular file")
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            _write_through(real, data)
            return
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise RefusedTarget(f"Cannot write {spelled}: it is {kind}.")
    _replace(spelled, real, data, durable, expect)


def read_regular(path: StrPath, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Raises ``OSError`` (``filename`` set) otherwise: opened with ``O_NONBLOCK`` and checked with
    ``fstat`` on the open descriptor, so a FIFO or device swapped in after a check cannot block
    or flood the reader."""
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a pipe, device or folder)", path)
        if st.st_size > limit:
            raise OSError(
                errno.EFBIG, f"too large ({st.st_size} bytes; at most {limit} expected)", path
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:  # grew while being read
            raise OSError(errno.EFBIG, f"too large (over {limit} bytes)", path)
        return data
    finally:
        os.close(fd)


def is_regular_file(path: StrPath) -> bool:
    """True for a regular file (after symbolic links); False for anything else or nothing."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


# ----------------------------------------------------------------------------------- refusals


def _own_descriptor(spelled: str) -> int | None:
    if spelled in _STD_PATHS:
        return _STD_PATHS[spelled]
    m = _FD_PATH.match(spelled)
    return int(m.group(1)) if m else None


def _refuse_owned(spelled: str, real: str, protect: Iterable[StrPath]) -> None:
    guarded = [os.path.realpath(os.fspath(p)) for p in protect]
    for owned in guarded:
        if real == owned or real.startswith(owned.rstrip(os.sep) + os.sep):
            raise RefusedTarget(_owned_message(spelled, owned))
    try:
        st = os.stat(real)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_nlink < 2:
        return
    # A hard link elsewhere to one of blipdesk's files: only then look at their identities.
    for owned in guarded:
        for path in _files_under(owned):
            with contextlib.suppress(OSError):
                other = os.stat(path)
                if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                    raise RefusedTarget(_owned_message(spelled, path))


def _owned_message(spelled: str, owned: str) -> str:
    return (
        f"Refusing to write {spelled}: it is blipdesk's own file ({owned}); "
        "choose another output file."
    )


def _files_under(root: str) -> Iterator[str]:
    if not os.path.isdir(root):
        yield root
        return
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            yield os.path.join(dirpath, name)


# ----------------------------------------------------------------------------------- writing


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_through(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------- temporaries


@functools.cache
def host_id() -> str:
    """This machine, as its temporaries name it: a PID means something only on its own host (a
    folder may be shared over the network)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _temporary_name(folder: str) -> str:
    """A temporary in ``folder`` this process would write: recognisable by its mark, its host
    and its PID, so a later run can tell a leftover of a killed process."""
    return os.path.join(
        folder, f"{TEMP_PREFIX}{host_id()}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
    )


def alive(pid: int) -> bool:
    """Whether process ``pid`` may still run on this host.

    On POSIX ``os.kill(pid, 0)`` asks without sending anything. Elsewhere there is no such
    question (on Windows ``os.kill(pid, 0)`` *terminates* the process), so the answer is always
    True there: a temporary is then stale only by its age (:data:`STALE_TEMP_SECONDS`)."""
    if not _POSIX:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: running
    return True


_swept: set[str] = set()
_swept_lock = threading.Lock()


def remove_stale_temporaries(folder: StrPath) -> list[Path]:
    """Remove the temporaries an interrupted blipdesk (``kill -9``, a power cut) left in
    ``folder``; returns them. The one cleaner: only regular files named as blipdesk names its
    temporaries are candidates, and only when the process that made them is gone (same host,
    :func:`alive` says no) or they are a day old. Nothing else is ever removed, and neither is a
    temporary of this process. The folder counts as swept for :func:`write_atomic`."""
    real = os.path.realpath(os.fspath(folder) or ".")
    with _swept_lock:
        _swept.add(real)
    removed: list[Path] = []
    here, me, now = host_id(), os.getpid(), time.time()
    try:
        entries = list(os.scandir(real))
    except OSError:
        return removed
    for entry in entries:
        writer = _writer(entry.name, here)
        if writer is None:
            continue
        host, pid = writer
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (host == here and pid == me):
            continue
        gone = host == here and not alive(pid)
        if gone or now - st.st_mtime > STALE_TEMP_SECONDS:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(os.fspath(folder), entry.name))
    return removed


def _writer(name: str, here: str) -> tuple[str, int] | None:
    """(host, PID) of the process that wrote a temporary named ``name``; None: not one."""
    found = _TEMP_NAME.match(name)
    if found is not None:
        return found.group(1), int(found.group(2))
    old = _OLD_TEMP_NAME.match(name)
    return None if old is None else (here, int(old.group(1)))


def _sweep_once(folder: str) -> None:
    """:func:`remove_stale_temporaries` the first time this process writes into ``folder``."""
    with _swept_lock:
        if folder in _swept:
            return
        _swept.add(folder)  # one thread sweeps; the others write on
    remove_stale_temporaries(folder)


def _replace(spelled: str, real: str, data: bytes, durable: bool, expect: Expected | None) -> None:
    folder = os.path.dirname(real)
    _sweep_once(folder)
    try:
        mode: int | None = stat.S_IMODE(os.stat(real).st_mode)
    except OSError:
        mode = None
    tmp = _temporary_name(folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    with _cleanup_on_signals(tmp):
        # 0o666 less the umask: what open() gives a new file; an old file's mode is set below.
        fd = os.open(tmp, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            try:
                _write_all(fd, data)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if mode is not None:
                with contextlib.suppress(OSError):  # keep the old file's permissions
                    os.chmod(tmp, mode)
            if expect is not None:
                _check_expected(spelled, real, expect)
            if expect is not None and expect.sha256 is None:
                _link_new(spelled, tmp, real)
            else:
                os.replace(tmp, real)
        finally:
            with contextlib.suppress(OSError):  # gone once moved; removed on any failure
                os.unlink(tmp)
    if durable:
        _fsync_folder(folder)


def _check_expected(spelled: str, real: str, expect: Expected) -> None:
    """Raise :class:`TargetChanged` unless ``real`` is what ``expect`` says. Reads a regular
    file only (opened non-blocking, checked with ``fstat``): anything else has changed."""
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        found: str | None = None
    else:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise TargetChanged(spelled, "is no longer a regular file")
            digest = hashlib.sha256()
            while chunk := os.read(fd, 1 << 20):
                digest.update(chunk)
            found = digest.hexdigest()
        finally:
            os.close(fd)
    if found != expect.sha256:
        reason = (
            "appeared since it was read" if expect.sha256 is None else "changed since it was read"
        )
        raise TargetChanged(spelled, reason)


def _link_new(spelled: str, tmp: str, real: str) -> None:
    """Put ``tmp`` at ``real``, which must not exist: a hard link fails if the name exists; file
    systems without hard links fall back to a last check."""
    try:
        os.link(tmp, real)
    except FileExistsError:
        raise TargetChanged(spelled, "appeared since it was read") from None
    except OSError:
        if os.path.lexists(real):
            raise TargetChanged(spelled, "appeared since it was read") from None
        os.replace(tmp, real)


def _fsync_folder(folder: str) -> None:
    if not _POSIX:  # a folder cannot be opened, let alone fsynced, elsewhere
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _Signalled(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _cleanup_on_signals(tmp: str) -> Iterator[None]:
    """While the temporary exists, a terminating signal removes it, then acts as it would have."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> NoReturn:
        raise _Signalled(signum)

    previous: dict[int, _Handler] = {}
    for sig in _SIGNALS:
        with contextlib.suppress(OSError, ValueError):
            if signal.getsignal(sig) != signal.SIG_DFL:
                # Ignored (SIGHUP under nohup): it would not have ended the process. A Python
                # handler runs as code: one that raises (Ctrl-C's KeyboardInterrupt) removes the
                # temporary on its way out; one that asks to stop later (the CLI's: after the
                # sidecar in flight) lets the write finish.
                continue
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    except _Signalled as got:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _restore(previous)
        previous = {}
        os.kill(os.getpid(), got.signum)  # now under the previous handler
        raise InterruptedError(f"interrupted by signal {got.signum}") from None
    finally:
        _restore(previous)


def _restore(previous: dict[int, _Handler]) -> None:
    for sig, old in previous.items():
        with contextlib.suppress(OSError, ValueError, TypeError):
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


__all__ = [
    "STALE_TEMP_SECONDS",
    "TEMP_PREFIX",
    "Expected",
    "RefusedTarget",
    "TargetChanged",
    "alive",
    "host_id",
    "is_regular_file",
    "read_regular",
    "remove_stale_temporaries",
    "write_atomic",
]
