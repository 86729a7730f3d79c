"""Why this tag: Grad-CAM of BLIP's ITM match logit over the photo's patches.

The recipe is LAVIS's ``compute_gradcam``: in one text layer's cross-attention, the attention
probabilities from each sentence token to each image token, times their positive gradients of
the ITM *match* logit, averaged over heads; the image ``[CLS]`` column is dropped and the rest
reshaped to the patch grid. One map per word-piece, and the sentence's map is their mean (the
first token and ``[SEP]`` left out). ``layer`` may also name several text layers: their maps are
summed (one backward pass, down to the lowest of them); on the miniature BLIP layers 0 and 1 together localise
better than either alone (tests/data/miniature-blip/README.md).

Computed from the photo's vision output (``ImageFeatures.embeds``), so a photo in the vision
cache needs no vision pass. The text side is re-run with gradients through the model's own
sub-modules, in the order ``Scorer`` runs them. Qt-free; torch only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from blipdesk.core.model import ENC_TOKEN_ID

if TYPE_CHECKING:
    from PIL import Image

    from blipdesk.core.feature_cache import FeatureStore
    from blipdesk.core.scorer import Scorer


@dataclass(frozen=True)
class Explanation:
    sentence: str
    itm: float  # the match probability of this (photo, sentence)
    layer: int | tuple[int, ...]  # the text layer, or the layers summed
    sentence_map: np.ndarray  # (grid, grid) float32, >= 0
    words: tuple[tuple[str, np.ndarray], ...]  # (word-piece, its (grid, grid) map)

    def peak(self) -> tuple[int, int]:
        """(row, column) of the sentence map's largest cell."""
        r, c = np.unravel_index(int(np.argmax(self.sentence_map)), self.sentence_map.shape)
        return int(r), int(c)


def default_layer(scorer: Scorer) -> int:
    """LAVIS uses block 6 of BERT-base's 12 (0-based: the 7th); the same depth of other models."""
    n = len(scorer.model.text_encoder.encoder.layer)
    return min(n - 1, max(0, round(n * 7 / 12) - 1))


def photo_vision(
    scorer: Scorer, path: str | os.PathLike[str], store: FeatureStore | None
) -> tuple[torch.Tensor | np.ndarray, bool]:
    """The photo's vision output to explain: from the vision cache when it is there (no decoding,
    no vision pass; ``True``), else one vision pass (``False``). Raises ``PhotoError``. The
    photo's content key is found by the scan's rule (``inventory.resolve_contents``); a file
    without one (unreadable, not a regular file) goes to the decoder, which says why."""
    from blipdesk.core.imaging import load_for_model
    from blipdesk.core.inventory import resolve_contents

    if store is not None:
        content = resolve_contents(store.library, [path]).found.get(os.fspath(path))
        cached = store.load_many([content]).get(content) if content is not None else None
        if cached is not None:
            return cached, True
    return scorer.encode_images(scorer.pixels(load_for_model(path)[None])).embeds[0], False


def explain(
    scorer: Scorer,
    embeds: torch.Tensor | np.ndarray,
    sentence: str,
    layer: int | Sequence[int] | None = None,
) -> Explanation:
    """Grad-CAM maps for one photo's vision output ``embeds`` (N, D) or (1, N, D) and one sentence,
    from one text layer (default: LAVIS's depth) or the sum over several."""
    model = scorer.model
    layers = model.text_encoder.encoder.layer
    layer = default_layer(scorer) if layer is None else layer
    chosen = (layer,) if isinstance(layer, int) else tuple(sorted(set(layer)))
    if not chosen or not all(0 <= k < len(layers) for k in chosen):
        raise ValueError(f"layer must be in 0..{len(layers) - 1}, not {layer}")
    with torch.inference_mode(False), torch.enable_grad():
        e = torch.as_tensor(np.asarray(embeds) if not torch.is_tensor(embeds) else embeds.clone())
        e = e.to(scorer.device, scorer.dtype).reshape(1, -1, e.shape[-1]).clone()
        e.requires_grad_(True)  # the weights are frozen: the graph hangs on the image tokens
        n_img = e.shape[1] - 1
        grid = round(math.sqrt(n_img))
        if grid * grid != n_img:
            raise ValueError(f"{n_img} image patches do not form a square grid")
        enc = scorer.tokenizer(
            [sentence], truncation=True, max_length=scorer.max_text_tokens, return_tensors="pt"
        )
        ids = enc["input_ids"].to(scorer.device)
        if scorer.first_token == "enc":
            ids = ids.clone()
            ids[:, 0] = ENC_TOKEN_ID
        h = model.text_encoder.embeddings(input_ids=ids)
        saved: list[torch.Tensor] = []
        for i, block in enumerate(layers):
            h = scorer._self_attention(block.attention, h, None, cls_only=False)
            sa = block.crossattention.self
            heads, size = sa.num_attention_heads, sa.attention_head_size
            q = scorer._heads(sa.query(h), heads)
            k = scorer._heads(sa.key(e), heads)
            v = scorer._heads(sa.value(e), heads)
            probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(size), dim=-1)
            if i in chosen:
                saved.append(probs)
            ctx = (probs @ v).transpose(1, 2).reshape(h.shape)
            h = block.crossattention.output(ctx, h)
            h = block.output(block.intermediate(h), h)
        logits = model.itm_head(h[:, 0]).float()
        # Only the chosen layers' gradients: the backward pass stops at the lowest of them (no
        # gradient for the image tokens or the weights is ever computed or stored).
        grads = torch.autograd.grad(logits[0, 1], saved, allow_unused=True)
        weighted = sum(  # (L, 1 + N): per layer, averaged over heads
            (p.detach() * g.clamp(min=0))[0].mean(0)
            for p, g in zip(saved, grads, strict=True)
            if g is not None
        )
        assert isinstance(weighted, torch.Tensor), "no gradient reached the chosen layers"
        cam: np.ndarray = weighted[:, 1:].reshape(-1, grid, grid).float().cpu().numpy()
        itm = float(torch.softmax(logits.detach(), -1)[0, 1])
    tokens = scorer.tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    inner = list(range(1, len(tokens) - 1)) or [0]
    words = tuple((tokens[t], cam[t]) for t in inner)
    sentence_map = cam[inner].mean(0)
    return Explanation(
        sentence, itm, chosen[0] if len(chosen) == 1 else chosen, sentence_map, words
    )


def whole_words(
    words: tuple[tuple[str, np.ndarray], ...],
) -> tuple[tuple[str, np.ndarray], ...]:
    """The word-piece maps of ``Explanation.words`` joined into whole words ("##" pieces go to
    the word before them; a word's map is the mean of its pieces'), for a person to pick from."""
    joined: list[tuple[str, list[np.ndarray]]] = []
    for piece, cam in words:
        if piece.startswith("##") and joined:
            joined[-1] = (joined[-1][0] + piece[2:], [*joined[-1][1], cam])
        else:
            joined.append((piece, [cam]))
    return tuple((word, np.mean(cams, axis=0).astype(np.float32)) for word, cams in joined)


# ----------------------------------------------------------------------------------- pictures


def colour_scale(x: np.ndarray) -> np.ndarray:
    """[0, 1] -> RGB uint8 on a blue-cyan-yellow-red scale (like 'jet', without matplotlib)."""
    x = np.clip(x, 0.0, 1.0)[..., None]
    stops = np.array([0.0, 0.35, 0.65, 1.0])
    colours = np.array([[20, 30, 160], [40, 200, 230], [250, 230, 40], [220, 30, 30]], np.float32)
    out = np.empty((*x.shape[:-1], 3), np.float32)
    for c in range(3):
        out[..., c] = np.interp(x[..., 0], stops, colours[:, c])
    return out.astype(np.uint8)


def overlay(photo: Image.Image, cam: np.ndarray, alpha: float = 0.5, bar: int = 24) -> Image.Image:
    """The photo with ``cam`` stretched back over it (the model saw it squashed to a square) in a
    colour scale, and the scale itself on the right (low at the bottom, high at the top)."""
    from PIL import Image, ImageDraw

    photo = photo.convert("RGB")
    w, h = photo.size
    top = float(cam.max())
    norm = cam / top if top > 0 else np.zeros_like(cam)
    heat = Image.fromarray((norm * 255).astype(np.uint8), "L").resize(
        (w, h), Image.Resampling.BILINEAR
    )
    coloured = Image.fromarray(colour_scale(np.asarray(heat, np.float32) / 255), "RGB")
    blended = Image.blend(photo, coloured, alpha)
    canvas = Image.new("RGB", (w + bar + 8, h), (255, 255, 255))
    canvas.paste(blended, (0, 0))
    ramp = np.linspace(1, 0, h, dtype=np.float32)[:, None].repeat(bar, 1)
    canvas.paste(Image.fromarray(colour_scale(ramp), "RGB"), (w + 8, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((w + 10, 2), "hi", fill=(255, 255, 255))
    draw.text((w + 10, max(0, h - 12)), "lo", fill=(255, 255, 255))
    return canvas
