"""Decoding ahead of the model: the worker processes' entry point and their lifetime.

A decode worker imports only ``imaging`` (no torch): it starts fast and stays small. It dies with
the scan that started it, however that ends. Qt-free and torch-free.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from blipdesk.core.files import is_raw
from blipdesk.core.imaging import load_for_model
from blipdesk.infra.errors import PhotoError

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _decode_worker_init(parent: int, nice: int = 0) -> None:
    """Runs first in every decode process: Ctrl-C is the parent's to handle, and the worker dies
    with its parent, however the parent ends (kill -9 included), so no decoder (and no
    multiprocessing resource tracker, which lives while a worker holds its pipe) outlives it.
    Linux: the kernel sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG). Everywhere
    (macOS has no such call): a watchdog thread exits when the parent PID changes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice and hasattr(os, "nice"):  # a background scan leaves the cores to the person
        try:
            os.nice(nice)
        except OSError as exc:
            log.debug("cannot lower the decode process's priority: %s", exc)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError) as exc:  # no prctl: the watchdog still works
            log.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int, every: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


@dataclass(frozen=True)
class Decoded:
    """A decode worker's answer: the photo as uint8 (384, 384, 3), or why it failed. A
    ``transient`` failure is the file's or the moment's, not its content's (moved, deleted or
    rewritten during the scan; not enough memory to decode it then): it is recorded against the
    path and retried by the next scan, never cached against
    the content hash (which would mark good bytes as unreadable for every copy of them)."""

    image: np.ndarray | None
    reason: str | None = None
    transient: bool = False


def decode_for_model(path: str, stamp: tuple[int, int] | None = None) -> Decoded:
    """Runs in a decode worker. ``stamp``: the (size, mtime_ns) the file had when it was hashed;
    if it differs now, the pixels may not belong to the content hash, so they are not used."""
    try:
        image, reason, transient = load_for_model(path), None, False
    except PhotoError as exc:
        image, reason, transient = None, exc.reason, exc.transient
    if stamp is not None:
        try:
            st = os.stat(path)
        except OSError:
            return Decoded(None, "moved or deleted during the scan; scan again", True)
        if (st.st_size, st.st_mtime_ns) != stamp:
            return Decoded(None, "changed during the scan; scan again", True)
    return Decoded(image, reason, transient)


def auto_decode_workers(device_type: str) -> int:
    """Decode processes. With a GPU doing the model, decoding is the bottleneck (a 12-MP JPEG
    takes ~40 ms even with draft decoding): use every core but one. On the CPU the model needs
    the cores, so decoding gets at most a quarter of them (at least one)."""
    cpus = os.cpu_count() or 2
    if device_type in ("cuda", "mps"):
        return max(1, cpus - 1)
    return max(1, min(4, cpus // 4))


def decode_pool(workers: int, use_processes: bool = True, nice: int = 0) -> cf.Executor:
    """``workers`` decode processes (``nice``: their priority lowered by that much), or threads
    where processes cannot be started."""
    if use_processes:
        try:
            return cf.ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_decode_worker_init,
                initargs=(os.getpid(), nice),
            )
        except (OSError, NotImplementedError, ImportError, PermissionError) as exc:
            log.warning("decode processes unavailable (%s); decoding in threads", exc)
    return cf.ThreadPoolExecutor(workers, thread_name_prefix="decode")


def result_of(future: cf.Future[Decoded], path: str, stamp: tuple[int, int] | None) -> Decoded:
    """A decode's answer for ``path``, also when its worker died: a RAW file is left to the next
    scan, anything else is decoded again in this thread."""
    try:
        return future.result()
    except BrokenProcessPool:
        if is_raw(path):
            # LibRaw is C: a RAW file that kills a worker would kill this process too.
            log.warning("a decode worker died; %s is left to the next scan", path)
            return Decoded(None, "a decode worker died reading it; tried again next scan", True)
        log.warning("a decode worker died; decoding %s in this thread", path)
        return decode_for_model(path, stamp)
