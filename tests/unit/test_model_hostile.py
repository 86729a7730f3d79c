"""Hostile and broken model folders end in a ModelError that names the file and the cause
(issue 10, items 2, 10 and 11): never a hang, a flood of memory, an internal error, or a model
that loads and caches meaningless scores."""

from __future__ import annotations

import json
import os
import shutil
import threading
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file

from blipdesk.core.device import resolve_placement
from blipdesk.core.model import ModelSpec, check_first_token, load_model, resolve_folder
from blipdesk.infra.errors import ModelError


@pytest.fixture
def model(tiny_model_dir, tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(tiny_model_dir, dst)
    return dst


def _load(folder):
    return load_model(ModelSpec(str(folder)), resolve_placement("cpu", "fp32"))


def _within(seconds, fn):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it blocks."""
    box: list = []

    def call():
        try:
            box.append(fn())
        except BaseException as exc:  # handed back to the test
            box.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"still blocked after {seconds} s"
    return box[0]


@pytest.mark.parametrize("name", ["extra.json", "notes.txt", "config.json"])
def test_a_fifo_in_the_model_folder_is_refused_without_blocking(model, name):
    (model / name).unlink(missing_ok=True)
    os.mkfifo(model / name)
    got = _within(10, lambda: resolve_folder(ModelSpec(str(model))))
    assert isinstance(got, ModelError), got
    assert name in str(got) and "regular file" in str(got)


def test_a_link_to_dev_zero_as_weights_is_refused(model):
    (model / "model.safetensors").unlink()
    (model / "model.safetensors").symlink_to("/dev/zero")
    got = _within(10, lambda: _load(model))
    assert isinstance(got, ModelError) and "model.safetensors" in str(got), got


def test_a_huge_tokenizer_file_is_refused_unread(model):
    with open(model / "tokenizer.json", "r+b") as fh:
        fh.truncate(65 << 20)  # sparse: costs no disk
    with pytest.raises(ModelError, match=r"tokenizer\.json.*far larger"):
        resolve_folder(ModelSpec(str(model)))


@pytest.mark.parametrize("dtype", [torch.int8, torch.bool, torch.float8_e4m3fn, torch.float64])
def test_weights_of_other_types_are_refused(model, dtype):
    weights = load_file(model / "model.safetensors")
    name = next(n for n in weights if n.endswith("query.weight"))
    weights[name] = weights[name].to(dtype)
    save_file(weights, model / "model.safetensors")
    with pytest.raises(ModelError, match="float32, float16 or bfloat16") as info:
        _load(model)
    assert name in str(info.value)


def test_nan_weights_are_refused(model):
    weights = load_file(model / "model.safetensors")
    name = next(n for n in weights if n.endswith("query.weight"))
    weights[name][0, 0] = float("nan")
    save_file(weights, model / "model.safetensors")
    with pytest.raises(ModelError, match="NaN") as info:
        _load(model)
    assert name in str(info.value)


def _edit_processor(model, **changes):
    path = model / "processor_config.json"
    doc = json.loads(path.read_text())
    doc["image_processor"].update(changes)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "changes, what",
    [
        ({"image_std": [0, 0, 0]}, "image_std"),
        ({"image_std": [0.2, float("nan"), 0.2]}, "image_std"),
        ({"image_mean": ["a", "b", "c"]}, "image_mean"),
        ({"image_mean": [0.5, 0.5]}, "image_mean"),
        ({"size": {"height": 0, "width": 0}}, "size.height"),
    ],
)
def test_broken_image_settings_are_refused(model, changes, what):
    _edit_processor(model, **changes)
    with pytest.raises(ModelError, match=what) as info:
        _load(model)
    assert "processor_config.json" in str(info.value)


@pytest.mark.parametrize(
    "name, value", [("patch_size", 0), ("image_size", -384), ("patch_size", "16")]
)
def test_broken_config_numbers_are_refused(model, name, value):
    doc = json.loads((model / "config.json").read_text())
    doc["vision_config"][name] = value
    (model / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match=f"vision_config.{name}"):
        _load(model)


def test_a_corrupt_vocabulary_is_a_model_error(model):
    (model / "tokenizer.json").unlink()  # the vocabulary is then all there is
    (model / "vocab.txt").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(ModelError, match="tokenizer files"):
        _load(model)


@pytest.mark.parametrize("source", ["bad id!!/x", "-leading/dash", "org/na me", ""])
def test_an_invalid_hub_id_says_so(source):
    with pytest.raises(ModelError, match="neither a model folder nor a Hugging Face model id"):
        resolve_folder(ModelSpec(source))


def test_first_token_is_checked_against_the_model():
    small = SimpleNamespace(
        model=SimpleNamespace(config=SimpleNamespace(text_config=SimpleNamespace(vocab_size=100))),
        folder="/m",
    )
    check_first_token(small, "cls")
    with pytest.raises(ModelError, match=r"no \[ENC\] token"):
        check_first_token(small, "enc")
    with pytest.raises(ModelError, match="'cls' or 'enc'"):
        check_first_token(small, "sep")
