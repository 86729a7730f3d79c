"""A scan the folder watcher starts runs at low priority: its decode processes are niced."""

from __future__ import annotations

import os

import pytest

from blipdesk.core import engine
from blipdesk.core.engine import ScanOptions


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no process priorities here")
def test_background_scans_decode_in_niced_processes():
    mine = os.nice(0)
    with engine._decode_pool(ScanOptions(low_priority=True, decode_workers=1)) as pool:
        assert pool.submit(os.nice, 0).result(timeout=60) == min(19, mine + 10)
    with engine._decode_pool(ScanOptions(decode_workers=1)) as pool:
        assert pool.submit(os.nice, 0).result(timeout=60) == mine
