"""Writing and reading files that may be hostile: one helper for each direction.

``write_atomic(target, data, protect=...)`` is how blipdesk writes a whole file:

* a regular file (or a new name) is written to a temporary file beside it (``.NAME.blipdesk-tmp-
  PID-RANDOM``), flushed, fsynced and moved over the target with ``os.replace``: a crash, a full
  disk or a signal leaves the old file as it was. A symbolic link is followed, so the link stays
  and the file it points at is replaced;
* a character device or a FIFO (``/dev/stdout``, ``/dev/null``, a named pipe) is written through,
  never replaced by a file; ``/dev/stdout``, ``/dev/stderr`` and ``/dev/fd/N`` write to the
  process's own descriptor, so ``> file`` and ``>> file`` redirections behave as the shell means;
* a folder, a block device or a socket is refused before anything is created;
* anything under ``protect`` (blipdesk's data folder, its database) is refused, whatever the
  spelling: the real path is compared (symbolic links), and so is the file's identity
  (``st_dev``, ``st_ino``: hard links).

Temporaries are removed when the write fails, on SIGTERM, SIGHUP and SIGINT during the write (the
signal is then delivered as before), and, for a ``kill -9``, by the next write beside the same
target (a temporary whose process is gone).

``read_regular(path, limit)`` reads a file only when it is a regular file (a FIFO would block
forever, ``/dev/zero`` never ends) and at most ``limit`` bytes long.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import Any, NoReturn

from blipdesk.infra.errors import UserError

TEMP_MARK = ".blipdesk-tmp-"
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


def write_atomic(
    target: StrPath, data: bytes, *, protect: Iterable[StrPath] = (), durable: bool = True
) -> None:
    """Write ``data`` as the whole content of ``target``; see the module docstring.

    ``durable=False`` skips the fsyncs, for derived data that is checked when read (the vision
    cache: a power cut may lose the last files, never put a half file under the final name
    unnoticed), where an fsync per file would slow a GPU scan of hundreds of photos a second."""
    spelled = os.fspath(target)
    fd = _own_descriptor(spelled)
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
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            _write_through(real, data)
            return
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise RefusedTarget(f"Cannot write {spelled}: it is {kind}.")
    _replace(real, data, durable)


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


def temp_name(target: str) -> str:
    """The temporary beside ``target`` that this process would write: recognisable by its mark
    and the writer's PID, so a later run can tell a leftover of a killed process."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def remove_stale_temporaries(target: StrPath) -> list[str]:
    """Delete temporaries beside ``target`` left by processes that no longer run; returns them."""
    folder, name = os.path.split(os.fspath(target))
    prefix = f".{name}{TEMP_MARK}"
    removed: list[str] = []
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return removed
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        pid = entry[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, entry))
                removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _replace(real: str, data: bytes, durable: bool = True) -> None:
    remove_stale_temporaries(real)
    tmp = temp_name(real)
    with _cleanup_on_signals(tmp):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        try:
            try:
                _write_all(fd, data)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(OSError):  # keep the old file's permissions
                os.chmod(tmp, stat.S_IMODE(os.stat(real).st_mode))
            os.replace(tmp, real)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    if durable:
        _fsync_folder(os.path.dirname(real))


def _fsync_folder(folder: str) -> None:
    with contextlib.suppress(OSError, AttributeError):
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
            if signal.getsignal(sig) == signal.SIG_IGN:
                continue  # ignored (SIGHUP under nohup): it would not have ended the process
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
    "TEMP_MARK",
    "RefusedTarget",
    "is_regular_file",
    "read_regular",
    "remove_stale_temporaries",
    "temp_name",
    "write_atomic",
]
