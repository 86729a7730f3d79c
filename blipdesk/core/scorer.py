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
* the last text layer computes only the ``[CLS]`` row, the only one either head reads.

Parity with the model card's calls is tested pair by pair (tests/unit/test_parity.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from blipdesk.core.model import ENC_TOKEN_ID, LoadedModel, score_key

FirstToken = Literal["cls", "enc"]
MAX_TEXT_TOKENS = 512  # the text encoder's position embeddings


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
class Scores:
    """Every (photo, sentence) score of one batch. Plain numpy: safe to hand to any thread."""

    itm_logits: np.ndarray  # (P, T, 2) float32: [no match, match]
    itm: np.ndarray  # (P, T) float32: softmax(itm_logits)[..., 1]
    cosine: np.ndarray  # (P, T) float32


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
    ) -> None:
        if first_token not in ("cls", "enc"):
            raise ValueError(f"first_token must be 'cls' or 'enc', not {first_token!r}")
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.device = loaded.placement.device
        self.dtype = loaded.placement.dtype
        self.first_token = first_token
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
        embeds = self._vision_forward(pixel_values.to(self.device, self.dtype))
        itc = F.normalize(self.model.vision_proj(embeds[:, 0]).float(), dim=-1)
        return ImageFeatures(embeds, itc)

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
        return vm.post_layernorm(x)

    # ----------------------------------------------------------------------------- text

    def _itc_dim(self) -> int:
        return int(self.model.text_proj.out_features)

    def _chunks(self, n_sentences: int, length: int, n_photos: int):
        """Split sentences so that photos x sentences x length stays within the token budget."""
        per_call = max(1, self.token_budget // max(1, length * n_photos))
        for start in range(0, n_sentences, per_call):
            yield start, min(n_sentences, start + per_call)

    def _text_forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        cross_kv: list[tuple[torch.Tensor, torch.Tensor]] | None,
        n_photos: int,
    ) -> torch.Tensor:
        """BLIP's text encoder, returning the last layer's ``[CLS]`` state.

        ``cross_kv``: per layer, the photos' image keys/values, each (P, heads, 577, head_dim);
        ``None`` runs the text-only (ITC) mode. Sentences are (T, L); with P photos the result is
        (P * T, hidden), photo-major.
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
            if cross_kv is not None:
                if not expanded and n_photos > 1:
                    h = h.repeat(n_photos, 1, 1)
                    if key_ok is not None:
                        key_ok = key_ok.repeat(n_photos, 1, 1, 1)
                expanded = True
                k, v = cross_kv[i]
                h = self._cross_attention(layer.crossattention, h, k, v, n_photos)
            h = layer.output(layer.intermediate(h), h)
        return h[:, 0]

    @staticmethod
    def _heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, n_heads, c // n_heads).transpose(1, 2)

    def _self_attention(self, block, h: torch.Tensor, key_ok: torch.Tensor | None, cls_only: bool):
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
        return block.output(ctx, q_in)

    def _cross_attention(
        self, block, h: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_photos: int
    ):
        sa = block.self
        heads = sa.num_attention_heads
        n, length, c = h.shape
        # (P*T, L, C) -> (P, T*L, C): each photo's sentences side by side as one query sequence.
        q = self._heads(sa.query(h).reshape(n_photos, (n // n_photos) * length, c), heads)
        ctx = F.scaled_dot_product_attention(q, k, v, scale=1.0 / math.sqrt(sa.attention_head_size))
        ctx = ctx.transpose(1, 2).reshape(n, length, c)
        return block.output(ctx, h)

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
        kv = self.cross_keys_values(image)
        parts = []
        for start, stop in self._chunks(t, ids.shape[1], p):
            cls = self._text_forward(ids[start:stop], sentences.attention_mask[start:stop], kv, p)
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
