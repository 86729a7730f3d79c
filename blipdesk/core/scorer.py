"""The scoring maths: the model card's two scores, computed the fast way.

The model card defines, for one photo and one sentence:

* ITM probability: ``softmax(model(**processor(photo, sentence)).itm_score)[1]``;
* ITC cosine: ``model(**processor(photo, sentence), use_itm_head=False).itm_score``.

Run as written, every (photo, sentence) pair costs two full vision passes, and the text encoder
projects the photo's 577 image tokens into keys/values again in all 12 cross-attention layers for
every pair. This module computes the same numbers with the model's own weights (it walks the same
sub-modules in the same order) but:

* one vision pass per photo, batched across photos, attention through
  ``scaled_dot_product_attention`` (BLIP is eager-only in transformers);
* the ITC text features of a sentence computed once and reused for every photo;
* per photo and layer, the image keys/values projected once and shared by all its sentences. Cross-
  attention treats every query token on its own (there is no mask over image tokens), so the
  tokens of all of a photo's sentences are laid side by side as one long query sequence against
  that photo's keys/values: sharing and batching across photos in one call;
* with few sentence tokens per photo (a new tag, a search), no keys/values at all: the key
  projection is folded into the query and the value projection applied after the attention
  (``_cross_attention_folded``), so a layer costs ~14 M multiply-adds per query token instead of
  ~0.9 G per photo for projecting 577 image tokens twice. Chosen per call by counting both;
* the last text layer computes only the ``[CLS]`` row, the only one either head reads.

Parity with the model card's calls is tested pair by pair (tests/unit/test_parity.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from blipdesk.core.model import ENC_TOKEN_ID, MAX_TEXT_TOKENS, LoadedModel, score_key

FirstToken = Literal["cls", "enc"]
CrossMode = Literal["auto", "kv", "folded"]


@dataclass(frozen=True)
class Sentences:
    """Sentences tokenised once, with their ITC text features. Reused for every photo."""

    texts: tuple[str, ...]
    input_ids: torch.Tensor  # (T, L) on the model's device
    attention_mask: torch.Tensor  # (T, L)
    itc: torch.Tensor  # (T, D_itc) L2-normalised, float32
    truncated: tuple[bool, ...]  # longer than the text encoder's positions: cut

    def __len__(self) -> int:
        return len(self.texts)

    def select(self, indices: Sequence[int]) -> Sentences:
        """These sentences only, in this order (their padding is kept: the mask covers it)."""
        rows = list(indices)
        return Sentences(
            tuple(self.texts[i] for i in rows),
            self.input_ids[rows],
            self.attention_mask[rows],
            self.itc[rows],
            tuple(self.truncated[i] for i in rows),
        )


@dataclass(frozen=True)
class ImageFeatures:
    """The vision side of a batch of photos: everything sentences need, computed once."""

    embeds: torch.Tensor  # (P, 577, D_vision): the vision tower's last_hidden_state
    itc: torch.Tensor  # (P, D_itc) L2-normalised, float32

    def __len__(self) -> int:
        return int(self.embeds.shape[0])


@dataclass(frozen=True)
class _Cross:
    """The photos' side of the text encoder's cross-attention, for one ITM call."""

    kv: list[tuple[torch.Tensor, torch.Tensor]] | None  # per layer; None: the folded form
    embeds: torch.Tensor  # (P, 577, D_vision)


@dataclass(frozen=True)
class Scores:
    """Every (photo, sentence) score of one batch. Plain numpy: safe to hand to any thread."""

    itm_logits: np.ndarray  # (P, T, 2) float32: [no match, match]
    itm: np.ndarray  # (P, T) float32: softmax(itm_logits)[..., 1]
    cosine: np.ndarray  # (P, T) float32


def fit_pixels(t: torch.Tensor, size: int) -> torch.Tensor:
    """(P, 3, H, W) float pixels in [0, 255] at the model's ``size``. Decoders squash every photo
    to 384 x 384 (BLIP's size); a model trained at another size (the miniature test model: 128 px)
    gets them resized again here, antialiased bicubic, rounded back to 8-bit values."""
    if t.shape[-2:] == (size, size):
        return t
    t = F.interpolate(t, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return t.round().clamp(0, 255)


class Scorer:
    """Scores photos against sentences with a loaded BLIP. Not thread-safe: one thread owns it.

    ``first_token`` chooses the first token the ITM pass sees: ``"cls"`` (the model card's, and
    transformers' default) or ``"enc"`` (what the original BLIP retrieval code trained and
    evaluated with; transformers issues 22732 and 25629). It is part of what a score depends on.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        first_token: FirstToken = "cls",
        token_budget: int | None = None,
        cross_mode: CrossMode = "auto",
    ) -> None:
        if first_token not in ("cls", "enc"):
            raise ValueError(f"first_token must be 'cls' or 'enc', not {first_token!r}")
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.device = loaded.placement.device
        self.dtype = loaded.placement.dtype
        self.first_token = first_token
        self.cross_mode: CrossMode = (
            cross_mode  # "auto": the cheaper per call (``_folded_is_cheaper``)
        )
        text_cfg = self.model.config.text_config
        if first_token == "enc" and text_cfg.vocab_size <= ENC_TOKEN_ID:
            raise ValueError("this model has no [ENC] token (vocabulary too small)")
        self.max_text_tokens = min(MAX_TEXT_TOKENS, int(text_cfg.max_position_embeddings))
        # Text tokens per ITM call (photos x sentences x length): bounds activation memory.
        self.token_budget = token_budget or (1 << 17 if self.device.type == "cuda" else 1 << 13)
        size = loaded.image.size
        mean = torch.tensor(loaded.image.mean, dtype=torch.float32, device=self.device)
        std = torch.tensor(loaded.image.std, dtype=torch.float32, device=self.device)
        # (x / 255 - mean) / std  ==  x * a + b
        self._pix_scale = (1.0 / (255.0 * std)).view(1, 3, 1, 1)
        self._pix_shift = (-mean / std).view(1, 3, 1, 1)
        self.image_size = size

    # ----------------------------------------------------------------------------- identity

    @property
    def score_key(self) -> str:
        """Everything besides the photo and the sentence that a score depends on."""
        return score_key(self.loaded.identity, self.first_token)

    @property
    def precision(self) -> str:
        """The precision the model computes in now ("fp32", "bf16", "fp16"): what a score
        records as having computed it (not part of its key; docs/guide/cache.md says why)."""
        return self.loaded.placement.precision

    def warm_up(self) -> None:
        """Run a tiny batch once so a GPU's one-time costs (kernel loading, library handles) are
        paid now, while decoders are already busy, not in the first batch of photos."""
        images = np.zeros((2, self.image_size, self.image_size, 3), dtype=np.uint8)
        self.score(images, self.encode_sentences(["a photo", "two photos of a dog"]))

    # ----------------------------------------------------------------------------- inputs

    def pixels(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (P, H, W, 3) photos already squashed to the model's size -> normalised (P, 3, H, W)."""
        t = torch.as_tensor(images)
        if t.ndim == 3:
            t = t.unsqueeze(0)
        t = t.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        t = fit_pixels(t, self.image_size)
        return (t * self._pix_scale + self._pix_shift).to(self.dtype)

    @torch.inference_mode()
    def encode_sentences(self, sentences: Sequence[str]) -> Sentences:
        """Tokenise (padding + attention mask) and compute each sentence's ITC text feature once."""
        texts = tuple(sentences)
        if not texts:
            empty = torch.zeros((0, 1), dtype=torch.long, device=self.device)
            return Sentences(
                texts, empty, empty, torch.zeros((0, self._itc_dim()), device=self.device), ()
            )
        full = self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        truncated = tuple(len(ids) > self.max_text_tokens for ids in full)
        enc = self.tokenizer(
            list(texts),
            padding="longest",
            truncation=True,
            max_length=self.max_text_tokens,
            return_tensors="pt",
            return_token_type_ids=False,
        )
        ids = enc["input_ids"].to(self.device)
        mask = enc["attention_mask"].to(self.device)
        itc_rows = []
        for start, stop in self._chunks(len(texts), ids.shape[1], 1):
            cls = self._text_forward(ids[start:stop], mask[start:stop], None, 1)
            itc_rows.append(F.normalize(self.model.text_proj(cls).float(), dim=-1))
        return Sentences(texts, ids, mask, torch.cat(itc_rows), truncated)

    # ----------------------------------------------------------------------------- vision

    @torch.inference_mode()
    def encode_images(self, pixel_values: torch.Tensor) -> ImageFeatures:
        """One vision pass per photo (batched): image tokens + ITC image features."""
        return self.image_features_from(
            self._vision_forward(pixel_values.to(self.device, self.dtype))
        )

    @torch.inference_mode()
    def image_features_from(self, embeds: np.ndarray | torch.Tensor) -> ImageFeatures:
        """``ImageFeatures`` from a vision output kept on disk (P, 577, D): no vision pass."""
        e = torch.as_tensor(embeds).to(self.device, self.dtype)
        itc = F.normalize(self.model.vision_proj(e[:, 0]).float(), dim=-1)
        return ImageFeatures(e, itc)

    def _vision_forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        vm = self.model.vision_model
        x = vm.embeddings(pixel_values)
        for layer in vm.encoder.layers:
            attn = layer.self_attn
            b, n, c = x.shape
            qkv = attn.qkv(layer.layer_norm1(x)).view(b, n, 3, attn.num_heads, attn.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            ctx = F.scaled_dot_product_attention(q, k, v, scale=attn.scale)
            x = x + attn.projection(ctx.transpose(1, 2).reshape(b, n, c))
            x = x + layer.mlp(layer.layer_norm2(x))
        out: torch.Tensor = vm.post_layernorm(x)
        return out

    # ----------------------------------------------------------------------------- text

    def _itc_dim(self) -> int:
        return int(self.model.text_proj.out_features)

    def _chunks(self, n_sentences: int, length: int, n_photos: int) -> Iterator[tuple[int, int]]:
        """Split sentences so that photos x sentences x length stays within the token budget."""
        per_call = max(1, self.token_budget // max(1, length * n_photos))
        for start in range(0, n_sentences, per_call):
            yield start, min(n_sentences, start + per_call)

    def _text_forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        cross: _Cross | None,
        n_photos: int,
    ) -> torch.Tensor:
        """BLIP's text encoder, returning the last layer's ``[CLS]`` state.

        ``cross``: the photos' side of cross-attention (per-layer keys/values, or the image tokens
        themselves for the folded form); ``None`` runs the text-only (ITC) mode. Sentences are
        (T, L); with P photos the result is (P * T, hidden), photo-major.
        """
        te = self.model.text_encoder
        h = te.embeddings(input_ids=input_ids)
        mask = attention_mask.bool()[:, None, None, :]  # (T, 1, 1, L)
        key_ok = None if bool(mask.all()) else mask
        layers = te.encoder.layer
        expanded = False
        for i, layer in enumerate(layers):
            last = i == len(layers) - 1
            # Self-attention. Until the first cross-attention the states do not depend on the photo,
            # so they are computed once per sentence and only then repeated per photo.
            h = self._self_attention(layer.attention, h, key_ok, cls_only=last)
            if cross is not None:
                if not expanded and n_photos > 1:
                    h = h.repeat(n_photos, 1, 1)
                    if key_ok is not None:
                        key_ok = key_ok.repeat(n_photos, 1, 1, 1)
                expanded = True
                if cross.kv is not None:
                    k, v = cross.kv[i]
                    h = self._cross_attention(layer.crossattention, h, k, v, n_photos)
                else:
                    h = self._cross_attention_folded(
                        layer.crossattention, h, cross.embeds, n_photos
                    )
            h = layer.output(layer.intermediate(h), h)
        cls: torch.Tensor = h[:, 0]
        return cls

    @staticmethod
    def _heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, n_heads, c // n_heads).transpose(1, 2)

    # ``block``: one of transformers' BLIP attention layers, reached as untyped attributes (Any);
    # what leaves it is annotated as a tensor.
    def _self_attention(
        self, block: Any, h: torch.Tensor, key_ok: torch.Tensor | None, cls_only: bool
    ) -> torch.Tensor:
        sa = block.self
        heads = sa.num_attention_heads
        q_in = h[:, :1] if cls_only else h
        q = self._heads(sa.query(q_in), heads)
        k = self._heads(sa.key(h), heads)
        v = self._heads(sa.value(h), heads)
        ctx = F.scaled_dot_product_attention(
            q, k, v, attn_mask=key_ok, scale=1.0 / math.sqrt(sa.attention_head_size)
        )
        ctx = ctx.transpose(1, 2).reshape(q_in.shape)
        out: torch.Tensor = block.output(ctx, q_in)
        return out

    def _cross_attention(
        self, block: Any, h: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_photos: int
    ) -> torch.Tensor:
        sa = block.self
        heads = sa.num_attention_heads
        n, length, c = h.shape
        # (P*T, L, C) -> (P, T*L, C): each photo's sentences side by side as one query sequence.
        q = self._heads(sa.query(h).reshape(n_photos, (n // n_photos) * length, c), heads)
        ctx = F.scaled_dot_product_attention(q, k, v, scale=1.0 / math.sqrt(sa.attention_head_size))
        ctx = ctx.transpose(1, 2).reshape(n, length, c)
        out: torch.Tensor = block.output(ctx, h)
        return out

    def _cross_attention_folded(
        self, block: Any, h: torch.Tensor, embeds: torch.Tensor, n_photos: int
    ) -> torch.Tensor:
        """Cross-attention without projecting the image tokens: the same numbers, other order.

        Per head, ``q . (W_k e + b_k) = (W_k^T q) . e + q . b_k``; the last term is the same for
        every image token, so softmax drops it. And since attention weights sum to one,
        ``sum_j a_j (W_v e_j + b_v) = W_v (sum_j a_j e_j) + b_v``. So each query is moved into the
        image tokens' space (D_vision wide), every head attends over the raw image tokens (one
        shared key/value set: the heads are laid side by side as one query sequence), and the
        value projection is applied to the D_vision-wide result. Cost per layer and photo:
        ~2 * heads * 577 * D_vision per query token, against 2 * 577 * D_vision * hidden for the
        keys/values alone: cheaper while a photo has fewer than ~60 query tokens."""
        sa = block.self
        heads, head = sa.num_attention_heads, sa.attention_head_size
        n, length, c = h.shape
        d_img = embeds.shape[-1]
        tl = (n // n_photos) * length
        # Heads first, photos and tokens folded together: one (P*TL, hd) x (hd, D) product per
        # head (a broadcast matmul over (P, H) would run P*H tiny products, ~5x slower).
        q = sa.query(h).reshape(n_photos * tl, heads, head).transpose(0, 1)  # (H, P*TL, hd)
        q_img = torch.bmm(q, sa.key.weight.view(heads, head, d_img))  # (H, P*TL, D)
        q_img = q_img.view(heads, n_photos, tl, d_img).transpose(0, 1)  # (P, H, TL, D)
        e = embeds.unsqueeze(1)  # (P, 1, N, D)
        ctx_img = F.scaled_dot_product_attention(
            q_img.reshape(n_photos, 1, heads * tl, d_img), e, e, scale=1.0 / math.sqrt(head)
        ).view(n_photos, heads, tl, d_img)
        ctx_img = ctx_img.transpose(0, 1).reshape(heads, n_photos * tl, d_img)  # (H, P*TL, D)
        w_v = sa.value.weight.view(heads, head, d_img).transpose(1, 2)  # (H, D, hd)
        ctx = torch.bmm(ctx_img, w_v) + sa.value.bias.view(heads, 1, head)  # (H, P*TL, hd)
        ctx = ctx.transpose(0, 1).reshape(n, length, c)  # (P*TL, H, hd) -> (P*T, L, C)
        out: torch.Tensor = block.output(ctx, h)
        return out

    def _folded_is_cheaper(self, tokens_per_photo: int, n: int, d_img: int) -> bool:
        """Multiply-adds per layer and photo: keys/values (projection + attention) vs folded."""
        if self.cross_mode != "auto":
            return self.cross_mode == "folded"
        sa = self.model.text_encoder.encoder.layer[0].crossattention.self
        hidden, heads = sa.all_head_size, sa.num_attention_heads
        kv = 2 * n * d_img * hidden + 2 * tokens_per_photo * n * hidden
        folded = tokens_per_photo * (2 * hidden * d_img + 2 * heads * n * d_img)
        return bool(folded < kv)

    def cross_keys_values(self, image: ImageFeatures) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per text layer, the photos' image keys and values: computed once, shared by all sentences."""
        out = []
        for layer in self.model.text_encoder.encoder.layer:
            sa = layer.crossattention.self
            heads = sa.num_attention_heads
            out.append(
                (
                    self._heads(sa.key(image.embeds), heads),
                    self._heads(sa.value(image.embeds), heads),
                )
            )
        return out

    # ----------------------------------------------------------------------------- scores

    @torch.inference_mode()
    def itm_logits(self, image: ImageFeatures, sentences: Sentences) -> torch.Tensor:
        """ITM logits for every (photo, sentence): (P, T, 2) float32."""
        p, t = len(image), len(sentences)
        if p == 0 or t == 0:
            return torch.zeros((p, t, 2), dtype=torch.float32, device=self.device)
        ids = sentences.input_ids
        if self.first_token == "enc":
            ids = ids.clone()
            ids[:, 0] = ENC_TOKEN_ID
        n_img, d_img = int(image.embeds.shape[1]), int(image.embeds.shape[2])
        kv: _Cross | None = None
        parts = []
        for start, stop in self._chunks(t, ids.shape[1], p):
            if self._folded_is_cheaper((stop - start) * ids.shape[1], n_img, d_img):
                cross = _Cross(None, image.embeds)
            else:
                kv = kv or _Cross(self.cross_keys_values(image), image.embeds)
                cross = kv
            cls = self._text_forward(
                ids[start:stop], sentences.attention_mask[start:stop], cross, p
            )
            parts.append(self.model.itm_head(cls).float().view(p, stop - start, 2))
        return torch.cat(parts, dim=1)

    @torch.inference_mode()
    def score_features(self, image: ImageFeatures, sentences: Sentences) -> Scores:
        logits = self.itm_logits(image, sentences)
        cosine = image.itc @ sentences.itc.T
        prob = torch.softmax(logits, dim=-1)[..., 1]
        return Scores(
            itm_logits=logits.cpu().numpy(),
            itm=prob.cpu().numpy(),
            cosine=cosine.float().cpu().numpy(),
        )

    def score(self, images: np.ndarray | torch.Tensor, sentences: Sentences) -> Scores:
        """The engine's unit of work, a pure function of (photos, sentences, model) -> scores.

        ``images``: uint8 (P, S, S, 3), decoded and squashed by ``imaging.load_for_model``.
        """
        return self.score_features(self.encode_images(self.pixels(images)), sentences)
