"""PySide6 must survive signals emitted from worker threads: blipdesk's threading model relies on it.

PySide6 6.12.0 aborts with "Fatal Python error: bool_dealloc: deallocating True or False" after a
few thousand emits from a non-GUI thread, even with nothing connected (found when the 10,000-photo
GUI benchmark crashed; 6.9.3, 6.10.3 and 6.11.3 pass). pyproject.toml caps PySide6 below 6.12;
this test is the gate for lifting that cap. It runs in a subprocess because the failure kills the
interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

REPRO = textwrap.dedent(
    """
    from concurrent.futures import ThreadPoolExecutor
    from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

    app = QCoreApplication([])

    class Relay(QObject):
        done = Signal(str)

    class Receiver(QObject):
        count = 0

        @Slot(str)
        def on_done(self, text):
            Receiver.count += 1

    relay, receiver = Relay(), Receiver()
    relay.done.connect(receiver.on_done)
    with ThreadPoolExecutor(4) as pool:
        for _ in range(100):
            for i in range(100):
                pool.submit(relay.done.emit, str(i))
            app.processEvents()
    app.processEvents()
    print("received", Receiver.count)
    """
)


def test_signals_from_worker_threads_do_not_corrupt_the_interpreter():
    proc = subprocess.run(
        [sys.executable, "-c", REPRO], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "received 10000" in proc.stdout
