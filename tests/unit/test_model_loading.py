"""Every way loading can fail gives a UserError that says what happened and what to do."""

from __future__ import annotations

import shutil

import pytest

from blipdesk.core.device import resolve_placement
from blipdesk.core.model import (
    DEFAULT_MODEL,
    ModelSpec,
    load_model,
    looks_like_path,
    resolve_folder,
)
from blipdesk.infra.errors import DeviceError, ModelError, UserError


def _cpu():
    return resolve_placement("cpu", "fp32")


def _copy(tiny_model_dir, tmp_path):
    dst = tmp_path / "model-copy"
    shutil.copytree(tiny_model_dir, dst)
    return dst


def test_local_folder_loads_through_from_pretrained(tiny_model_dir):
    loaded = load_model(ModelSpec(str(tiny_model_dir)), _cpu())
    assert type(loaded.model).__name__ == "BlipForImageTextRetrieval"
    assert loaded.identity.key.startswith("dir:")
    assert not loaded.model.training


def test_identity_follows_content_not_location(tiny_model_dir, tmp_path):
    _, a = resolve_folder(ModelSpec(str(tiny_model_dir)))
    _, b = resolve_folder(ModelSpec(str(_copy(tiny_model_dir, tmp_path))))
    assert a.key == b.key
    other = tmp_path / "other"
    from tests.helpers.models import build_random_blip

    build_random_blip(other, seed=1)
    assert resolve_folder(ModelSpec(str(other)))[1].key != a.key


def test_offline_without_weights_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not on this computer") as info:
        load_model(ModelSpec(DEFAULT_MODEL), _cpu())
    assert "local model folder" in str(info.value)
    assert isinstance(info.value, UserError)


def test_no_network_without_weights_says_so(monkeypatch):
    """Not in offline mode, but the hub cannot be reached (a closed local port stands for it)."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False, raising=False)
    monkeypatch.setattr(hub_constants, "ENDPOINT", "http://127.0.0.1:9", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "2")
    with pytest.raises(ModelError, match="cannot be downloaded"):
        resolve_folder(ModelSpec(DEFAULT_MODEL))


def test_missing_folder(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(ModelSpec(str(tmp_path / "no-such-model")), _cpu())


def test_folder_without_config(tmp_path):
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_model(ModelSpec(str(tmp_path / "empty-model")), _cpu())


def test_corrupt_weights(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3])  # a download cut short
    with pytest.raises(ModelError, match="damaged") as info:
        load_model(ModelSpec(str(folder)), _cpu())
    assert str(folder) in str(info.value)


def test_garbage_weights(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelError, match="damaged"):
        load_model(ModelSpec(str(folder)), _cpu())


def test_pickled_weights_only_are_refused(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(ModelError, match="pickled weights"):
        load_model(ModelSpec(str(folder)), _cpu())


def test_incomplete_weights_are_refused(tiny_model_dir, tmp_path):
    """A checkpoint missing tensors would be filled with random values: refuse it."""
    from safetensors.torch import load_file, save_file

    folder = _copy(tiny_model_dir, tmp_path)
    tensors = load_file(folder / "model.safetensors")
    dropped = [k for k in tensors if k.startswith("itm_head")]
    for key in dropped:
        del tensors[key]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelError, match="incomplete"):
        load_model(ModelSpec(str(folder)), _cpu())


def test_wrong_architecture_is_refused(tiny_model_dir, tmp_path):
    import json

    folder = _copy(tiny_model_dir, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["BlipForConditionalGeneration"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="not a BLIP image-text matching model"):
        load_model(ModelSpec(str(folder)), _cpu())


@pytest.mark.parametrize(
    ("device", "precision", "message"),
    [
        ("cuda", "auto", "CUDA was requested"),
        ("cuda:3", "auto", "CUDA was requested"),
        ("mps", "auto", "MPS was requested"),
        ("tpu", "auto", "Unknown device"),
        ("cpu", "fp8", "Unknown precision"),
    ],
)
def test_impossible_device_requests(device, precision, message):
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(DeviceError, match=message):
        resolve_placement(device, precision)


def test_auto_placement_on_this_machine():
    import torch

    from blipdesk.core.device import cpu_has_native_bf16

    placement = resolve_placement("auto", "auto")
    if torch.cuda.is_available():
        assert (placement.device.type, placement.dtype) == ("cuda", torch.float16)
    elif placement.device.type == "cpu":
        expected = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
        assert placement.dtype == expected
    assert resolve_placement("cpu", "bf16").dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("source", "is_path"),
    [
        ("Salesforce/blip-itm-large-flickr", False),
        ("/models/blip", True),
        ("./blip", True),
        ("~/models/blip", True),
        ("C:\\models\\blip", True),
        ("models/a/b", True),
    ],
)
def test_hub_ids_and_paths_are_told_apart(source, is_path):
    assert looks_like_path(source) is is_path
