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

from blipdesk.infra.errors import ModelError

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
    except Exception as exc:  # report's own stop, and anything not the network's, pass through
        if not _network_failure(exc):
            raise
        raise ModelError(no_connection_message(source)) from None
    finally:
        sink.close()


def no_connection_message(source: str) -> str:
    """What to say when the hub cannot be reached: a normal condition, said in words."""
    return (
        f"The model {source} is not on this computer, and huggingface.co cannot be reached "
        "(no network connection). Connect to the internet and try again (about 1.8 GB, "
        "downloaded once), or choose a model folder on this computer in File > Settings… > "
        "Model (Local folder…)."
    )


def _network_failure(exc: BaseException) -> bool:
    """A failure to reach the hub (no network, DNS, proxy, timeout, the hub's HTTP errors), as
    opposed to a bug, a full disk or a stop asked for. The hub client's transport is requests or
    httpx, by version: both are asked, where installed."""
    import importlib
    import socket

    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    network: list[type[BaseException]] = [
        HfHubHTTPError, LocalEntryNotFoundError, ConnectionError, TimeoutError, socket.gaierror,
    ]  # fmt: skip
    for module, name in (("requests", "RequestException"), ("httpx", "TransportError")):
        try:
            network.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return isinstance(exc, tuple(network))


def reachable(timeout: float = 3.0) -> bool:
    """Whether the hub answers at all now (a HEAD request; the environment's proxy honoured):
    without it, offering a 1.8 GB download only ends in an error. Any HTTP answer counts."""
    import urllib.error
    import urllib.request

    from huggingface_hub import constants

    request = urllib.request.Request(constants.ENDPOINT, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError:  # the hub answered, with an error: it is reachable
        return True
    except (OSError, ValueError):  # URLError (no route, DNS, proxy), timeouts
        return False


def model_folder(source: str, is_local: bool) -> Path:
    """The folder whose files are the model: a local model folder itself, or the hub cache's
    folder of the model (every snapshot, and the blobs its files link to)."""
    if is_local:
        return Path(source).expanduser()
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    return Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=source, repo_type="model")
