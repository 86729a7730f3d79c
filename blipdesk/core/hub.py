"""The Hugging Face hub: which files a model is, offline mode, is the model on disk, and
downloading it with progress and cancel. Qt-free: ``core/model.py`` resolves models with the same
file patterns and offline rule, and the window's first-use download calls it.

``huggingface_hub.snapshot_download`` reports through a ``tqdm_class``; the one here forwards the
byte counts to a callable, which raises to cancel. (In windowed apps ``sys.stderr`` can be None and
tqdm's own output crashes, tqdm/tqdm#1523: this class never writes anything.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL_PATTERNS = ["*.json", "*.safetensors", "*.txt"]
APPROX_MODEL_BYTES = 1_800_000_000


def offline() -> bool:
    """``HF_HUB_OFFLINE`` is set: never reach the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def model_on_disk(source: str, revision: str | None = None) -> bool:
    """True when the hub model's files are in the local Hugging Face cache (no network)."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            repo_id=source, revision=revision, allow_patterns=MODEL_PATTERNS, local_files_only=True
        )
    except Exception:  # LocalEntryNotFoundError and friends: not there
        return False
    return any(Path(folder).glob("*.safetensors"))


def download_model(
    source: str, revision: str | None, report: Callable[[int, int | None], None]
) -> Path:
    """Download the model, calling ``report(done_bytes, total_bytes)``; ``report`` may raise to stop."""
    from huggingface_hub import snapshot_download
    from tqdm.auto import tqdm

    sink = open(os.devnull, "w")  # noqa: SIM115 - one for every bar of this download, closed below

    class Reporter(tqdm):  # type: ignore[misc]  # tqdm has no type information: an Any base
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = False
            kwargs["file"] = sink
            super().__init__(*args, **kwargs)

        def update(self, n: float = 1) -> Any:
            out = super().update(n)
            if self.unit == "B":
                report(int(self.n), int(self.total) if self.total else None)
            return out

    try:
        return Path(
            snapshot_download(
                repo_id=source,
                revision=revision,
                allow_patterns=MODEL_PATTERNS,
                tqdm_class=Reporter,
            )
        )
    finally:
        sink.close()


def model_folder(source: str, is_local: bool) -> Path:
    """The folder whose files are the model: a local model folder itself, or the hub cache's
    folder of the model (every snapshot, and the blobs its files link to)."""
    if is_local:
        return Path(source).expanduser()
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    return Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=source, repo_type="model")
