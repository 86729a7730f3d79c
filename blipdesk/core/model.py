"""Loading BLIP: a hub id (downloaded once, then offline) or a local folder.

Weights are loaded from safetensors only (a pickle file can run code when it is loaded) and
``trust_remote_code`` is never used. Every way loading can fail becomes a ``ModelError`` that says
what happened and what to do.

The model's identity (hub id + resolved commit, or a fingerprint of a local folder's files) goes
into every cached score's key, so changing the model never mixes scores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blipdesk.errors import ModelError

if TYPE_CHECKING:  # torch and transformers are imported only when a model is really loaded
    from blipdesk.core.device import Placement

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Salesforce/blip-itm-large-flickr"
ENC_TOKEN_ID = 30523  # BLIP's "[ENC]" token: row 30523 of the 30524-row text embedding


@dataclass(frozen=True)
class ModelSpec:
    """What the person asked for: a hub id (with an optional revision) or a local folder."""

    source: str = DEFAULT_MODEL
    revision: str | None = None

    @property
    def is_local(self) -> bool:
        return looks_like_path(self.source)


def looks_like_path(source: str) -> bool:
    """A hub id is ``org/name``; anything that exists on disk or is spelled as a path is a folder."""
    if os.path.isdir(os.path.expanduser(source)):
        return True
    return (
        source.startswith(("/", "~", ".", "\\"))
        or "\\" in source
        or (len(source) > 1 and source[1] == ":")
        or source.count("/") > 1
    )


@dataclass(frozen=True)
class ModelIdentity:
    """What a score depends on, model-wise. ``key`` is stable across machines for the same weights."""

    source: str
    revision: str | None
    key: str


def score_key(identity: ModelIdentity, first_token: str = "cls") -> str:
    """Everything besides the photo and the sentence that a cached score depends on: the model's
    weights, the ITM first token, and the decoding rule. Cheap: needs neither torch nor weights."""
    from blipdesk.core.imaging import DECODE_RULE_VERSION

    return f"{identity.key}|first={first_token}|decode={DECODE_RULE_VERSION}"


@dataclass(frozen=True)
class ImageSettings:
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass
class LoadedModel:
    model: Any  # BlipForImageTextRetrieval, in eval mode, on placement.device
    tokenizer: Any  # its tokenizer (BertTokenizerFast for BLIP)
    image: ImageSettings
    placement: Placement
    identity: ModelIdentity
    folder: Path  # where the files were read from (a snapshot folder for hub ids)


def folder_fingerprint(folder: Path) -> str:
    """A cheap content fingerprint of a model folder: config + weight files' sizes, heads and tails.

    Hashing 1.8 GB of weights on every start would cost seconds; the safetensors header (which
    lists every tensor and its offsets) plus the first and last MiB of each file changes whenever
    the weights do in practice, and a copy of the folder elsewhere keeps its fingerprint.
    """
    digest = hashlib.sha256()
    names = sorted(
        p.name for p in folder.iterdir() if p.suffix in (".json", ".safetensors", ".txt")
    )
    for name in names:
        path = folder / name
        size = path.stat().st_size
        digest.update(f"{name}\0{size}\0".encode())
        with open(path, "rb") as fh:
            if path.suffix == ".safetensors" and size > 2 << 20:
                digest.update(fh.read(1 << 20))
                fh.seek(size - (1 << 20))
                digest.update(fh.read())
            else:
                digest.update(fh.read())
    return digest.hexdigest()[:20]


def _check_local_folder(folder: Path) -> None:
    if not folder.exists():
        raise ModelError(f"The model folder {folder} does not exist.")
    if not folder.is_dir():
        raise ModelError(
            f"The model path {folder} is a file; choose the folder that holds config.json."
        )
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"The model folder {folder} has no config.json; choose the folder that holds the model files "
            "(config.json, model.safetensors, tokenizer files)."
        )
    if not any(folder.glob("*.safetensors")):
        pickled = sorted(
            p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt")
        )
        if pickled:
            raise ModelError(
                f"The model folder {folder} holds only pickled weights ({', '.join(pickled)}). blipdesk "
                "loads safetensors only, because loading a pickle file can run arbitrary code. Convert the "
                "weights to model.safetensors, or use the hub id."
            )
        raise ModelError(f"The model folder {folder} has no weights (no *.safetensors file).")


def _is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _offline_message(spec: ModelSpec) -> str:
    return (
        f"The model {spec.source!r} is not on this computer yet and cannot be downloaded "
        f"({'offline mode: HF_HUB_OFFLINE is set' if _is_offline() else 'no connection to huggingface.co'}). "
        "Connect to the internet once so blipdesk can download it (about 1.8 GB), "
        "or choose a local model folder (--model /path/to/folder, or Settings > Model)."
    )


def resolve_folder(spec: ModelSpec) -> tuple[Path, ModelIdentity]:
    """Find (and download, when allowed) the model's files; return the folder and its identity."""
    if spec.is_local:
        folder = Path(os.path.expanduser(spec.source)).resolve()
        _check_local_folder(folder)
        return folder, ModelIdentity(str(folder), None, f"dir:{folder_fingerprint(folder)}")

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    patterns = ["*.json", "*.safetensors", "*.txt"]
    kwargs: dict[str, Any] = dict(
        repo_id=spec.source, revision=spec.revision, allow_patterns=patterns
    )
    try:
        snapshot = snapshot_download(local_files_only=True, **kwargs)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        snapshot = None
    if snapshot is None or not any(Path(snapshot).glob("*.safetensors")):
        if _is_offline():
            raise ModelError(_offline_message(spec))
        try:
            snapshot = snapshot_download(**kwargs)
        except RepositoryNotFoundError:
            raise ModelError(
                f"There is no model called {spec.source!r} on the Hugging Face hub (or it is private)."
            ) from None
        except RevisionNotFoundError:
            raise ModelError(
                f"The model {spec.source!r} has no revision {spec.revision!r}."
            ) from None
        except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
            log.info("download of %s failed: %s", spec.source, exc)
            raise ModelError(_offline_message(spec)) from None
    folder = Path(snapshot)
    if not any(folder.glob("*.safetensors")):
        raise ModelError(
            f"The model {spec.source!r} has no safetensors weights; blipdesk does not load pickled weights."
        )
    commit = folder.name  # snapshots/<commit>
    return folder, ModelIdentity(spec.source, spec.revision, f"hub:{spec.source}@{commit}")


def load_model(spec: ModelSpec, placement: Placement) -> LoadedModel:
    """Load BLIP and its tokenizer through ``from_pretrained``, exactly as users' folders are loaded."""
    folder, identity = resolve_folder(spec)

    import torch
    from transformers import AutoTokenizer, BlipForImageTextRetrieval
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"The model's config.json in {folder} cannot be read: {exc}") from None
    arch = config.get("architectures") or []
    if arch and "BlipForImageTextRetrieval" not in arch:
        raise ModelError(
            f"The model in {folder} is a {arch[0]}, not a BLIP image-text matching model "
            "(BlipForImageTextRetrieval, e.g. Salesforce/blip-itm-large-flickr)."
        )
    model: Any
    info: dict[str, Any]
    try:
        model, info = BlipForImageTextRetrieval.from_pretrained(  # type: ignore[misc]
            folder, use_safetensors=True, dtype=placement.dtype, output_loading_info=True
        )
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise ModelError(
            f"The model in {folder} could not be loaded; its files may be damaged: {exc}"
        ) from None
    except Exception as exc:  # safetensors raises its own SafetensorError (not an OSError)
        if type(exc).__name__ == "SafetensorError":
            raise ModelError(f"The model weights in {folder} are damaged: {exc}") from None
        raise
    missing = [k for k in info.get("missing_keys", ()) if not k.endswith("position_ids")]
    if missing:
        raise ModelError(
            f"The model in {folder} is incomplete: {len(missing)} weights are missing "
            f"(e.g. {missing[0]}); scoring with it would give random results."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise ModelError(f"The tokenizer files in {folder} could not be loaded: {exc}") from None

    image = _image_settings(folder, model)
    try:
        model.to(placement.device)
    except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
        from blipdesk.errors import DeviceError

        raise DeviceError(f"The model does not fit on {placement.device}: {exc}") from None
    model.eval()
    model.requires_grad_(False)
    return LoadedModel(model, tokenizer, image, placement, identity, folder)


def _image_settings(folder: Path, model) -> ImageSettings:
    from blipdesk.core.imaging import CLIP_MEAN, CLIP_STD

    size = int(model.config.vision_config.image_size)
    mean, std = CLIP_MEAN, CLIP_STD
    for name in ("preprocessor_config.json", "processor_config.json"):
        try:
            cfg = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        cfg = cfg.get("image_processor", cfg)  # transformers 5 nests it in processor_config.json
        mean = tuple(cfg.get("image_mean", mean))
        std = tuple(cfg.get("image_std", std))
        sz = cfg.get("size")
        if isinstance(sz, dict) and "height" in sz:
            size = int(sz["height"])
        break
    return ImageSettings(size, mean, std)  # type: ignore[arg-type]
