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
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blipdesk.core.hub import MODEL_PATTERNS, offline
from blipdesk.infra.errors import ModelError

if TYPE_CHECKING:  # torch and transformers are imported only when a model is really loaded
    from torch import nn
    from transformers import BlipForImageTextRetrieval

    from blipdesk.core.device import Placement

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Salesforce/blip-itm-large-flickr"
MAX_TEXT_TOKENS = 512  # BLIP's text encoder positions (torch-free here: the CLI warns with it)
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


def source_key(source: str) -> str:
    """How a model source is recorded in the cache: local folders as resolved paths."""
    if looks_like_path(source):
        return str(Path(os.path.expanduser(source)).resolve())
    return source


@dataclass(frozen=True)
class ModelIdentity:
    """What a score depends on, model-wise. ``key`` is stable across machines for the same weights."""

    source: str
    revision: str | None
    key: str


def image_key_of(score_key: str) -> str:
    """The vision output's key (weights + decoding rule: ``engine.model_key``'s image key) of a
    score key (weights + first token + decoding rule): the score key without its first token."""
    head, _, rest = score_key.partition("|first=")
    return f"{head}|{rest.partition('|')[2]}" if rest else score_key


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


MAX_TEXT_FILE_BYTES = 64 << 20  # config, tokenizer JSON, vocab: a real one is ~1 MB
MAX_HEADER_BYTES = 100 << 20  # a safetensors header lists tensors; BLIP's is ~100 kB
WEIGHT_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def model_files(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """The folder's config, tokenizer and weight files, checked before anything reads them: each
    must be a regular file (a FIFO would hang the reader, a link to /dev/zero would never end),
    and text files must be at most ``MAX_TEXT_FILE_BYTES``. Raises ``ModelError``."""
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".json", ".safetensors", ".txt"):
            continue
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ModelError(
                f"The model file {path} cannot be read ({exc.strerror or exc})."
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise ModelError(
                f"The model file {path} is not a regular file (a pipe, device or folder); "
                "blipdesk reads only regular files from a model folder."
            )
        if path.suffix != ".safetensors" and st.st_size > MAX_TEXT_FILE_BYTES:
            raise ModelError(
                f"The model file {path} is {st.st_size} bytes, far larger than a config or "
                f"tokenizer file can be (at most {MAX_TEXT_FILE_BYTES >> 20} MiB)."
            )
        out.append((path, st))
    return out


def _read_model_file(path: Path, limit: int = MAX_TEXT_FILE_BYTES, at: int = 0) -> bytes:
    """Up to ``limit`` bytes from ``at`` of a model file, opened without blocking (O_NONBLOCK)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise ModelError(f"The model file {path} cannot be read ({exc.strerror or exc}).") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ModelError(f"The model file {path} is not a regular file.")
        fh.seek(at)
        return fh.read(limit)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_model_file(path))
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"The model file {path} is not valid JSON: {exc}") from None


def folder_fingerprint(folder: Path) -> str:
    """A cheap content fingerprint of a model folder: config + weight files' sizes, heads and tails.

    Hashing 1.8 GB of weights on every start would cost seconds; the safetensors header (which
    lists every tensor and its offsets) plus the first and last MiB of each file changes whenever
    the weights do in practice, and a copy of the folder elsewhere keeps its fingerprint.
    """
    digest = hashlib.sha256()
    for path, st in model_files(folder):
        size = st.st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        if path.suffix == ".safetensors" and size > 2 << 20:
            digest.update(_read_model_file(path, 1 << 20))
            digest.update(_read_model_file(path, 1 << 20, size - (1 << 20)))
        else:
            digest.update(_read_model_file(path, size))
    return digest.hexdigest()[:20]


def check_weight_dtypes(folder: Path) -> None:
    """Refuse weights stored as anything but float32, float16 or bfloat16: an int8, bool or fp8
    tensor would be cast silently on loading and give meaningless scores (read from the
    safetensors header: 8 bytes of length, then JSON naming each tensor's dtype)."""
    for path in sorted(folder.glob("*.safetensors")):
        head = _read_model_file(path, 8)
        if len(head) < 8:
            raise ModelError(f"The model weights {path} are damaged (shorter than a header).")
        length = int.from_bytes(head, "little")
        if length > MAX_HEADER_BYTES:
            raise ModelError(f"The model weights {path} are damaged (a {length}-byte header).")
        try:
            header = json.loads(_read_model_file(path, length, 8))
            bad = {
                name: info.get("dtype")
                for name, info in header.items()
                if name != "__metadata__" and info.get("dtype") not in WEIGHT_DTYPES
            }
        except (ValueError, RecursionError, AttributeError) as exc:
            raise ModelError(f"The model weights {path} are damaged (header: {exc}).") from None
        if bad:
            name, dtype = next(iter(bad.items()))
            raise ModelError(
                f"The model weights {path} hold {len(bad)} tensor(s) of type {dtype} (e.g. "
                f"{name}); blipdesk uses only float32, float16 or bfloat16 weights, since others "
                "would be converted silently into meaningless scores."
            )


def _check_local_folder(folder: Path) -> None:
    if not folder.exists():
        raise ModelError(f"The model folder {folder} does not exist.")
    if not folder.is_dir():
        raise ModelError(
            f"The model path {folder} is a file; choose the folder that holds config.json."
        )
    if not os.path.lexists(folder / "config.json"):
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


def _offline_message(spec: ModelSpec) -> str:
    return (
        f"The model {spec.source!r} is not on this computer yet and cannot be downloaded "
        f"({'offline mode: HF_HUB_OFFLINE is set' if offline() else 'no connection to huggingface.co'}). "
        "Connect to the internet once so blipdesk can download it (about 1.8 GB), "
        "or choose a local model folder (--model /path/to/folder; in the window: File > Settings… > Model)."
    )


def _check_hub_id(source: str) -> None:
    from huggingface_hub.errors import HFValidationError

    # Public API, but huggingface_hub.utils imports it without re-exporting it for type checkers.
    from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]

    try:
        validate_repo_id(source)
    except HFValidationError:
        raise ModelError(
            f"{source!r} is neither a model folder nor a Hugging Face model id "
            "(like Salesforce/blip-itm-large-flickr: letters, digits, '-', '_' and '.')."
        ) from None


def resolve_folder(spec: ModelSpec) -> tuple[Path, ModelIdentity]:
    """Find (and download, when allowed) the model's files; return the folder and its identity."""
    if spec.is_local:
        folder = Path(os.path.expanduser(spec.source)).resolve()
        _check_local_folder(folder)
        return folder, ModelIdentity(str(folder), None, f"dir:{folder_fingerprint(folder)}")

    _check_hub_id(spec.source)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    kwargs: dict[str, Any] = dict(
        repo_id=spec.source, revision=spec.revision, allow_patterns=MODEL_PATTERNS
    )
    try:
        snapshot = snapshot_download(local_files_only=True, **kwargs)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        snapshot = None
    if snapshot is None or not any(Path(snapshot).glob("*.safetensors")):
        if offline():
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

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # unannotated in transformers
    model_files(folder)  # regular files of sane sizes only (hub snapshots too)
    config = _read_json(folder / "config.json")
    if not isinstance(config, dict):
        raise ModelError(f"The model's config.json in {folder} is not a JSON object.")
    _check_config_numbers(folder, config)
    check_weight_dtypes(folder)
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
    except (
        OSError, ValueError, RuntimeError, KeyError, TypeError, ArithmeticError, IndexError,
        AttributeError,
    ) as exc:  # fmt: skip
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
    _check_finite_weights(folder, model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except MemoryError:
        raise
    except Exception as exc:  # tokenizers raises a bare Exception for a damaged vocab.txt
        raise ModelError(f"The tokenizer files in {folder} could not be loaded: {exc}") from None

    image = _image_settings(folder, model)
    try:
        model.to(placement.device)
    except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
        from blipdesk.infra.errors import DeviceError

        raise DeviceError(f"The model does not fit on {placement.device}: {exc}") from None
    model.eval()
    model.requires_grad_(False)
    return LoadedModel(model, tokenizer, image, placement, identity, folder)


def _check_config_numbers(folder: Path, config: dict[str, Any]) -> None:
    """Sizes the model is built from must be positive integers (``patch_size: 0`` would end in
    a ZeroDivisionError deep in transformers)."""
    for part in ("vision_config", "text_config"):
        sub = config.get(part) or {}
        if not isinstance(sub, dict):
            raise ModelError(f"The model's config.json in {folder}: {part} is not an object.")
        for name in (
            "image_size", "patch_size", "hidden_size", "num_attention_heads",
            "num_hidden_layers", "intermediate_size", "vocab_size", "max_position_embeddings",
        ):  # fmt: skip
            value = sub.get(name)
            if value is not None and (type(value) is not int or not 0 < value <= 1 << 20):
                raise ModelError(
                    f"The model's config.json in {folder} is broken: {part}.{name} is "
                    f"{value!r}, not a positive whole number."
                )


def _check_finite_weights(folder: Path, model: nn.Module) -> None:
    """NaN or infinite weights give NaN scores: refuse them at load (a second per GB)."""
    import torch

    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(
                f"The model in {folder} is broken: its weight {name} holds NaN or infinite "
                "values, so every score would be NaN."
            )


def _numbers(
    value: Any, what: str, origin: Path, nonzero: bool = False
) -> tuple[float, float, float]:
    """Three finite numbers (one number stands for all three channels)."""
    items = value if isinstance(value, list | tuple) else [value]
    if len(items) == 1:
        items = list(items) * 3
    ok = len(items) == 3 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in items
    )
    if ok and nonzero:
        ok = all(v != 0 for v in items)
    if not ok:
        need = "non-zero finite numbers" if nonzero else "finite numbers"
        raise ModelError(
            f"The model's image settings in {origin} are broken: {what} is {value!r}; it must "
            f"be three {need}."
        )
    first, second, third = (float(v) for v in items)
    return first, second, third


def _image_settings(folder: Path, model: BlipForImageTextRetrieval) -> ImageSettings:
    from blipdesk.core.imaging import CLIP_MEAN, CLIP_STD

    # transformers types vision_config as dict | config | None; a loaded BLIP's is a config.
    size = int(model.config.vision_config.image_size)  # type: ignore[union-attr]
    mean, std = CLIP_MEAN, CLIP_STD
    for name in ("preprocessor_config.json", "processor_config.json"):
        path = folder / name
        if not path.exists():
            continue
        cfg = _read_json(path)
        if isinstance(cfg, dict):
            cfg = cfg.get("image_processor", cfg)  # transformers 5 nests it
        if not isinstance(cfg, dict):
            raise ModelError(f"The model's image settings in {path} are not a JSON object.")
        mean = _numbers(cfg.get("image_mean", mean), "image_mean", path)
        std = _numbers(cfg.get("image_std", std), "image_std", path, nonzero=True)
        sz = cfg.get("size")
        if isinstance(sz, dict) and "height" in sz:
            height = sz["height"]
            if type(height) is not int or not 0 < height <= 4096:
                raise ModelError(
                    f"The model's image settings in {path} are broken: size.height is "
                    f"{height!r}, not a whole number of pixels up to 4096."
                )
            size = height
        break
    return ImageSettings(size, mean, std)


def check_first_token(loaded: LoadedModel, first_token: str) -> None:
    """``enc`` needs BLIP's [ENC] token in the vocabulary; anything but cls/enc is a mistake."""
    if first_token not in ("cls", "enc"):
        raise ModelError(f"The ITM first token must be 'cls' or 'enc', not {first_token!r}.")
    vocab = int(getattr(loaded.model.config.text_config, "vocab_size", 0))
    if first_token == "enc" and vocab <= ENC_TOKEN_ID:
        raise ModelError(
            f"The model in {loaded.folder} has no [ENC] token (a vocabulary of {vocab}); "
            "use the first token 'cls' with it."
        )
