"""Running the model over photos: the per-batch scoring functions every scan shares, and what
to do when memory runs out (``Runner``: fewer photos per call, then the CPU).

Torch and the scorer are imported when called, never at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from blipdesk.domain import ScoreRow
from blipdesk.infra.errors import ModelError, UserError

if TYPE_CHECKING:
    from blipdesk.core.scorer import ImageFeatures, Scorer, Scores, Sentences

# One model call's result: the photos' image features and their scores against the sentences.
Scored: TypeAlias = "tuple[ImageFeatures, Scores]"

log = logging.getLogger(__name__)


def score_pixels(scorer: Scorer, images: np.ndarray, sentences: Sentences) -> Scored:
    """The unit of work, a pure function (photos, sentences, model) -> (image features, scores)."""
    features = scorer.encode_images(scorer.pixels(images))
    return features, scorer.score_features(features, sentences)


def score_cached(
    scorer: Scorer, embeds: np.ndarray, itc: np.ndarray | None, sentences: Sentences
) -> Scored:
    """``score_pixels`` for photos whose vision output is cached: no decoding, no vision pass.
    ``itc``: the photos' cached ITC features, or None to derive them from ``embeds``."""
    from blipdesk.core.scorer import ImageFeatures

    features = scorer.image_features_from(embeds)
    if itc is not None:
        import torch

        features = ImageFeatures(
            features.embeds, torch.from_numpy(itc).to(scorer.device, torch.float32)
        )
    return features, scorer.score_features(features, sentences)


def score_decoded(runner: Runner, sentences: tuple[str, ...], images: np.ndarray) -> Scored:
    """The per-batch scoring function of every scan (the desktop's, a shard's, a Ray actor's):
    photos decoded by ``decode_for_model`` (uint8, (P, 384, 384, 3)) against ``sentences`` (a
    subset of the runner's), one vision pass each, in chunks that fit in memory, NaN refused."""

    def pixels_call(scorer: Scorer, a: int, b: int) -> Scored:
        return score_pixels(scorer, images[a:b], runner.subset(sentences))

    return runner.run(len(images), pixels_call)


def score_rows(
    contents: Sequence[str],
    sentences: Sequence[str],
    scores: Scores,
    precision: str | None = None,
    vision_cache: bool = False,
) -> list[ScoreRow]:
    """One ``ScoreRow`` per (photo, sentence) of a scored batch, as the cache stores them, with
    what computed them (the model's precision; the vision output read from the vision cache)."""
    rows = []
    for i, content in enumerate(contents):
        for j, sentence in enumerate(sentences):
            logits = scores.itm_logits[i, j]
            rows.append(
                ScoreRow(
                    content,
                    sentence,
                    float(scores.itm[i, j]),
                    float(logits[0]),
                    float(logits[1]),
                    float(scores.cosine[i, j]),
                    precision,
                    vision_cache,
                )
            )
    return rows


def new_runner(scorer: Scorer, sentences: Sequence[str]) -> Runner:
    """A runner for ``score_decoded`` outside a scan (a Ray actor): the sentences encoded once,
    the same out-of-memory policy; its ``notices`` say what the person should know."""
    return Runner(scorer, tuple(dict.fromkeys(sentences)), [])


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    # MPS and cuBLAS say "out of memory"; the CPU's DefaultCPUAllocator "can't allocate memory".
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate" in text)


class Runner:
    """The scorer in use, its encoded sentences, and what to do when the GPU runs out of memory:
    halve the photos per model call (and keep the smaller size for the rest of the scan), and when
    even one photo does not fit, move the model to the CPU (fp32) and go on there, with a notice.

    Scores keep their key: it names the weights, first token and decoding rule, not the device."""

    def __init__(
        self,
        scorer: Scorer,
        sentences: tuple[str, ...],
        notices: list[str] | None = None,
        text: Sentences | None = None,
    ) -> None:
        """``notices``: where to say what the person should know (a long sentence cut, a move
        to the CPU); ``text``: ``sentences`` already encoded by ``scorer`` (not encoded again)."""
        self.scorer = scorer
        self.sentences = sentences
        self.encoded = {s: i for i, s in enumerate(sentences)}
        self.text = scorer.encode_sentences(sentences) if text is None else text
        self.notices = [] if notices is None else notices
        for sentence, cut in zip(sentences, self.text.truncated, strict=True):
            if cut:
                self.notices.append(
                    f"the sentence {shorten(sentence)} is longer than the model reads "
                    f"({scorer.max_text_tokens} tokens); only its beginning is scored"
                )
        self.limit: int | None = None  # photos per model call after an out-of-memory error

    def subset(self, sentences: tuple[str, ...]) -> Sentences:
        return self.text.select([self.encoded[s] for s in sentences])

    def run(self, n: int, call: Callable[[Scorer, int, int], Scored]) -> Scored:
        """``call(scorer, start, stop)`` over photos [0, n) in chunks that fit in memory."""
        while True:
            try:
                return check_finite(self._chunked(n, call), self.scorer)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                self._free()
                size = self.limit or n
                if size > 1:
                    self.limit = size // 2
                    log.warning(
                        "out of memory with %d photos per call; retrying %d", size, size // 2
                    )
                elif self.scorer.device.type != "cpu":
                    self._to_cpu(exc)
                else:
                    raise UserError(
                        f"Not enough memory to run the model even on one photo ({exc}); close "
                        "other programs and scan again: finished batches are kept."
                    ) from None

    def _chunked(self, n: int, call: Callable[[Scorer, int, int], Scored]) -> Scored:
        step = self.limit or n
        parts = [call(self.scorer, start, min(n, start + step)) for start in range(0, n, step)]
        return parts[0] if len(parts) == 1 else merge(parts)

    def _free(self) -> None:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _to_cpu(self, exc: BaseException) -> None:
        import torch

        from blipdesk.core.device import Placement
        from blipdesk.core.model import LoadedModel
        from blipdesk.core.scorer import Scorer

        old = self.scorer
        loaded = old.loaded
        model = loaded.model.to("cpu").float()
        placement = Placement(torch.device("cpu"), torch.float32)
        self.scorer = Scorer(
            LoadedModel(model, loaded.tokenizer, loaded.image, placement, loaded.identity,
                        loaded.folder),
            old.first_token,
        )  # fmt: skip
        self.text = self.scorer.encode_sentences(self.sentences)
        self.limit = None
        self._free()
        notice = (
            f"{old.device} ran out of memory even for one photo at a time ({exc}); "
            "the rest of this scan runs on the CPU (slower). Close other programs using the GPU, "
            "or choose --device cpu."
        )
        log.warning(notice)
        self.notices.append(notice)


def check_finite(result: Scored, scorer: Scorer) -> Scored:
    """``result`` ((features, scores) of a model call) if every score is a number; a model with
    broken weights or image settings gives NaN, which must never reach the cache."""
    scores = result[1]
    if all(np.isfinite(a).all() for a in (scores.itm, scores.itm_logits, scores.cosine)):
        return result
    identity = getattr(getattr(scorer, "loaded", None), "identity", None)
    raise ModelError(
        f"The model {getattr(identity, 'source', '')} is broken: it produced NaN scores (its "
        "weights or image settings hold invalid numbers); nothing of this batch was stored."
    )


def shorten(text: str, width: int = 60) -> str:
    """A sentence quoted for a one-line message: repr, cut to ``width`` characters."""
    return (
        repr(text)
        if len(text) <= width
        else repr(text[: width - 1] + "…") + f" ({len(text)} characters)"
    )


def merge(parts: list[Scored]) -> Scored:
    """Join per-chunk (features, scores) results along the photo axis."""
    import torch

    from blipdesk.core.scorer import ImageFeatures, Scores

    features = ImageFeatures(
        torch.cat([f.embeds for f, _ in parts]), torch.cat([f.itc for f, _ in parts])
    )
    scores = Scores(
        np.concatenate([s.itm_logits for _, s in parts]),
        np.concatenate([s.itm for _, s in parts]),
        np.concatenate([s.cosine for _, s in parts]),
    )
    return features, scores
