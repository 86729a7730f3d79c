"""Shared fixtures. Hermetic: every directory under tmp_path, no network, no real weights."""

from __future__ import annotations

import os
import subprocess

import pytest

# Before anything imports Qt or huggingface_hub.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Redirect every directory blipdesk or Hugging Face could write to."""
    monkeypatch.setenv("BLIPDESK_DATA_DIR", str(tmp_path / "blipdesk-data"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    # huggingface_hub reads its cache folder and offline flag once, at import: follow the test.
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(autouse=True)
def _no_leftover_log_handlers():
    """A command run in-process (``app.main``) installs blipdesk's log handlers: not past its test."""
    yield
    from blipdesk.infra import logs

    logs.remove_handlers()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A small random BlipForImageTextRetrieval saved as a real model folder (safetensors)."""
    from tests.helpers.models import build_random_blip

    return build_random_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir):
    """The tiny model loaded through the user's code path, on the CPU in fp32."""
    from blipdesk.core.device import resolve_placement
    from blipdesk.core.model import ModelSpec, load_model

    return load_model(ModelSpec(str(tiny_model_dir)), resolve_placement("cpu", "fp32"))


@pytest.fixture(scope="session")
def tiny_scorer(tiny_loaded):
    from blipdesk.core.scorer import Scorer

    return Scorer(tiny_loaded)


@pytest.fixture
def small_mount(tmp_path):
    """A 1 MiB tmpfs (root only; skipped with the reason elsewhere); unmounted afterwards."""
    where = tmp_path / "mnt"
    where.mkdir()
    got = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True
    )
    if got.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {got.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def library(tmp_path):
    """The cache's writer in ``tmp_path/data`` (tests that need another one define their own)."""
    from blipdesk.store import Library

    with Library.open(tmp_path / "data" / "library.sqlite3") as lib:
        yield lib
