"""A miniature BLIP that has really learned something: drawn shapes and their captions.

Random weights (``blipdesk.testing``) prove that code runs; they cannot prove that a score means
anything. This module draws photos with Pillow (one to three circles, squares, triangles or stars,
in five colours and several sizes, at known boxes, over textured noisy backgrounds), names them
with captions from a small grammar ("a red circle", "two yellow stars", "a blue square next to a
green triangle"), and trains a small ``BlipForImageTextRetrieval`` on them the way BLIP is trained:
ITC (contrastive, soft targets where several captions are true) plus ITM on negatives mined from
the ITC similarities, plus one-word edits of true captions as extra hard negatives.

Caption semantics (``is_true``): a caption is a true statement, not a full description.
"a red circle" holds when some item is a red circle; "two red circles" when exactly two are;
"a red circle next to a blue square" when both are there (two different items). Counting words
other than "a" are exact, so "two stars" is false for three stars.

Photos reach the model exactly as blipdesk feeds them: ``imaging.resize_for_model`` to 384 px,
then ``scorer.fit_pixels`` to the miniature's 128 px (see ``model_inputs``).

Used by ``scripts/train_miniature.py`` (which made ``tests/data/miniature-blip/``), the tests and
``benchmarks/bench_accuracy.py``. Torch is imported only by the functions that need it.
"""

from __future__ import annotations

import itertools
import json
import math
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "miniature-blip"  # tests/data/
IMAGE_SIZE = 128
PATCH_SIZE = 16
COLOURS = {
    "red": (215, 35, 35),
    "green": (35, 165, 55),
    "blue": (40, 75, 215),
    "yellow": (235, 210, 35),
    "white": (245, 245, 245),
}
SHAPES = ("circle", "square", "triangle", "star")
NUMBERS = {1: "a", 2: "two", 3: "three"}
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "a an the one two three next to and of with photo picture shape shapes thing things "
    "circle circles square squares triangle triangles star stars red green blue yellow white"
).split()
SCALE = (0.24, 0.38)  # an item's side, as a share of the photo's shorter side
# ON_GRID: items are drawn on the model's 8 x 8 patch grid (see sample_photo), k x k cells each,
# k in GRID_CELLS: a fixture choice, so that the miniature's small ViT, whose patch embedding is
# linear over a patch, learns the shapes in a ~5-minute CPU budget (a real BLIP has no such need).
ON_GRID = True
GRID_CELLS = (2, 3)
SIZES = ((160, 120), (120, 160), (144, 144), (192, 128), (128, 192), (176, 132))


# ----------------------------------------------------------------------------------- photos


@dataclass(frozen=True)
class Item:
    shape: str
    colour: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the photo's pixels


@dataclass(frozen=True)
class Photo:
    width: int
    height: int
    items: tuple[Item, ...]
    seed: int


def sample_photo(rng: np.random.Generator, seed: int) -> Photo:
    """One to three items at non-overlapping boxes; a quarter of multi-item photos repeat a kind.
    With ``ON_GRID`` each box is k x k cells (k in ``GRID_CELLS``) of the model's patch grid, as
    the photo reaches the model (squashed to IMAGE_SIZE square), else anywhere (``SCALE``)."""
    width, height = SIZES[int(rng.integers(len(SIZES)))]
    n = int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    kinds = [(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS)))) for _ in range(n)]
    if n >= 2 and rng.random() < 0.3:
        kinds[1] = kinds[0]
        if n == 3 and rng.random() < 0.3:
            kinds[2] = kinds[0]
    side = min(width, height)
    gap = 1 if ON_GRID else 3  # ON_GRID: boxes and gap in cells (checked on the grid)
    items: list[Item] = []
    placed: list[tuple[int, int, int, int]] = []  # the items' boxes as compared: cells or pixels
    for shape, colour in kinds:
        for attempt in range(200):
            if ON_GRID:
                box = _grid_box(rng, width, height, small=attempt >= 100)
            else:
                lo, hi = SCALE
                scale = rng.uniform(lo, hi) if attempt < 100 else rng.uniform(0.8 * lo, 0.7 * hi)
                s = int(side * scale)
                x0 = int(rng.integers(2, width - s - 2))
                y0 = int(rng.integers(2, height - s - 2))
                box = (x0, y0, x0 + s, y0 + s)
            spot = _cells(box, width, height) if ON_GRID else box
            if all(_apart(spot, other, gap) for other in placed):
                items.append(Item(shape, colour, box))
                placed.append(spot)
                break
    return Photo(width, height, tuple(items), seed)


def _grid_box(
    rng: np.random.Generator, width: int, height: int, small: bool = False
) -> tuple[int, int, int, int]:
    """A box of k x k cells of the model's patch grid (a cell: width / G by height / G photo
    pixels, G = IMAGE_SIZE // PATCH_SIZE), starting on a cell boundary: square in model space."""
    g = IMAGE_SIZE // PATCH_SIZE
    lo, hi = GRID_CELLS
    k = lo if small else int(rng.integers(lo, hi + 1))
    i, j = int(rng.integers(0, g - k + 1)), int(rng.integers(0, g - k + 1))
    cw, ch = width / g, height / g
    return (round(i * cw), round(j * ch), round((i + k) * cw), round((j + k) * ch))


def _cells(box, width: int, height: int) -> tuple[int, int, int, int]:
    """A grid box's cells (i0, j0, i1, j1), i1 and j1 exclusive."""
    g = IMAGE_SIZE // PATCH_SIZE
    x0, y0, x1, y1 = box
    return (
        round(x0 * g / width),
        round(y0 * g / height),
        round(x1 * g / width),
        round(y1 * g / height),
    )


def _apart(a, b, gap: int = 3) -> bool:
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def photos(n: int, seed: int) -> list[Photo]:
    rng = np.random.default_rng(seed)
    return [sample_photo(rng, seed * 1_000_003 + i) for i in range(n)]


def render(photo: Photo) -> Image.Image:
    """The photo as an RGB image: a muted gradient, texture strokes and noise, then the items."""
    return render_with_mask(photo)[0]


def render_with_mask(photo: Photo) -> tuple[Image.Image, Image.Image]:
    """``render``'s image, and a mask of the same size ("L": 0 background, k + 1 where item k
    was drawn, later items over earlier ones)."""
    rng = np.random.default_rng(photo.seed)
    w, h = photo.width, photo.height
    grey = rng.uniform(70, 170, 2)
    tint = rng.uniform(-22, 22, (2, 3))
    c0, c1 = grey[0] + tint[0], grey[1] + tint[1]
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(angle) * x / w + np.sin(angle) * y / h + 1) / 2
    base = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(4, 12))):  # texture: muted strokes and blobs
        g = rng.uniform(60, 180) + rng.uniform(-20, 20, 3)
        colour = tuple(int(v) for v in np.clip(g, 0, 255))
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.6:
            x1, y1 = int(rng.integers(0, w)), int(rng.integers(0, h))
            draw.line([x0, y0, x1, y1], fill=colour, width=int(rng.integers(1, 4)))
        else:
            r = int(rng.integers(3, 14))
            draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=colour)
    mask = Image.new("L", (w, h), 0)
    marks = ImageDraw.Draw(mask)
    for k, item in enumerate(photo.items):
        jitter = rng.integers(-20, 21, 3)
        fill = tuple(int(v) for v in np.clip(np.array(COLOURS[item.colour]) + jitter, 0, 255))
        _draw_item([(draw, fill), (marks, k + 1)], item, rng)
    arr = np.asarray(im, dtype=np.float32) + rng.normal(0, rng.uniform(3, 9), (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB"), mask


def _draw_item(targets, item: Item, rng: np.random.Generator) -> None:
    """Draw ``item`` on every (ImageDraw, fill) of ``targets``, the same turn on each."""
    turn = rng.uniform(-0.3, 0.3)
    for draw, fill in targets:
        _draw_shape(draw, item, fill, turn)


def _draw_shape(draw: ImageDraw.ImageDraw, item: Item, fill, turn: float) -> None:
    x0, y0, x1, y1 = item.box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    if item.shape == "circle":
        draw.ellipse([x0, y0, x1, y1], fill=fill)
    elif item.shape == "square":
        half = r / (abs(math.cos(turn)) + abs(math.sin(turn))) * math.sqrt(2)  # fits the box
        pts = [
            (cx + half * math.cos(turn + math.pi / 4 + k * math.pi / 2),
             cy + half * math.sin(turn + math.pi / 4 + k * math.pi / 2))
            for k in range(4)
        ]  # fmt: skip
        draw.polygon(pts, fill=fill)
    elif item.shape == "triangle":
        pts = [
            (cx + r * math.sin(turn + k * 2 * math.pi / 3), cy - r * math.cos(turn + k * 2 * math.pi / 3))
            for k in range(3)
        ]  # fmt: skip
        draw.polygon(pts, fill=fill)
    else:  # a five-pointed star
        pts = []
        for k in range(10):
            rr = r if k % 2 == 0 else r * 0.42
            a = turn + k * math.pi / 5
            pts.append((cx + rr * math.sin(a), cy - rr * math.cos(a)))
        draw.polygon(pts, fill=fill)


def model_inputs(images: list[Image.Image], size: int = IMAGE_SIZE) -> np.ndarray:
    """uint8 (N, size, size, 3): exactly what blipdesk's scan feeds the model (each photo squashed
    to 384 px by ``imaging.resize_for_model``, then ``scorer.fit_pixels`` to the model's size)."""
    import torch

    from blipdesk.core.imaging import resize_for_model
    from blipdesk.core.scorer import fit_pixels

    out = []
    for start in range(0, len(images), 256):
        big = np.stack([resize_for_model(im) for im in images[start : start + 256]])
        t = fit_pixels(torch.from_numpy(big).permute(0, 3, 1, 2).float(), size)
        out.append(t.permute(0, 2, 3, 1).to(torch.uint8).numpy())
    return np.concatenate(out)


def patch_labels(
    items: list[Photo], masks: list[Image.Image], size: int, patch: int, cover: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Per photo and patch of the model's grid (the photo squashed to ``size``): the colour and
    the shape of the item that covers the patch (1-based indices into COLOURS and SHAPES), 0 for
    background, -1 (ignored) where an item covers some of the patch but under ``cover``."""
    grid = size // patch
    colour = np.zeros((len(items), grid * grid), dtype=np.int64)
    shape = np.zeros_like(colour)
    names = list(COLOURS)
    for n, (photo, mask) in enumerate(zip(items, masks, strict=True)):
        m = np.asarray(mask.resize((size, size), Image.Resampling.NEAREST))
        blocks = m.reshape(grid, patch, grid, patch).transpose(0, 2, 1, 3).reshape(grid * grid, -1)
        for k, block in enumerate(blocks):
            counts = np.bincount(block, minlength=len(photo.items) + 1)
            best = int(counts[1:].argmax()) + 1 if len(counts) > 1 else 0
            share = counts[best] / block.size if best else 0.0
            if share >= cover:
                item = photo.items[best - 1]
                colour[n, k] = 1 + names.index(item.colour)
                shape[n, k] = 1 + SHAPES.index(item.shape)
            elif share > 0.05:
                colour[n, k] = shape[n, k] = -1
    return colour, shape


# ----------------------------------------------------------------------------------- captions

Clause = tuple[int, str | None, str | None]  # (number, colour or None, shape or None)
Caption = tuple[Clause, ...]  # one clause, or two joined by "next to"


def clause_text(clause: Clause) -> str:
    number, colour, shape = clause
    noun = shape or "shape"
    if number > 1:
        noun += "s"
    return " ".join(w for w in (NUMBERS[number], colour, noun) if w)


def caption_text(caption: Caption) -> str:
    return " next to ".join(clause_text(c) for c in caption)


def _matches(item: Item, clause: Clause) -> bool:
    _, colour, shape = clause
    return (colour is None or item.colour == colour) and (shape is None or item.shape == shape)


def is_true(photo: Photo, caption: Caption) -> bool:
    if len(caption) == 1:
        number = caption[0][0]
        count = sum(_matches(it, caption[0]) for it in photo.items)
        return count >= 1 if number == 1 else count == number
    a, b = caption
    return any(
        i != j and _matches(x, a) and _matches(y, b)
        for (i, x), (j, y) in itertools.product(enumerate(photo.items), repeat=2)
    )


def _all_captions() -> list[Caption]:
    singles = [
        ((n, c, s),)
        for n in NUMBERS
        for c in [*COLOURS, None]
        for s in [*SHAPES, None]
        if c is not None or s is not None
    ]
    full = [(1, c, s) for c in COLOURS for s in SHAPES]
    pairs = [(a, b) for a in full for b in full if a != b]
    return singles + pairs


CAPTIONS: list[Caption] = _all_captions()
CAPTION_INDEX = {c: i for i, c in enumerate(CAPTIONS)}


def truth_matrix(items: list[Photo]) -> np.ndarray:
    """(photos, CAPTIONS) bool: which caption is true of which photo."""
    return np.array([[is_true(p, c) for c in CAPTIONS] for p in items], dtype=bool)


def caption_weight(caption: Caption) -> float:
    """How often a true caption is picked as a positive: full descriptions more than partial ones."""
    if len(caption) == 2:
        return 3.0
    _, colour, shape = caption[0]
    return 3.0 if colour and shape else 1.0


def edits(caption: Caption) -> list[tuple[str, Caption]]:
    """Every one-word edit of ``caption`` with its kind: colour, shape, number or "next to"."""
    out: list[tuple[str, Caption]] = []
    for k, (n, c, s) in enumerate(caption):

        def put(clause: Clause, k=k) -> Caption:
            return tuple(clause if i == k else old for i, old in enumerate(caption))

        if c is not None:
            out += [("colour", put((n, c2, s))) for c2 in COLOURS if c2 != c]
        if s is not None:
            out += [("shape", put((n, c, s2))) for s2 in SHAPES if s2 != s]
        if len(caption) == 1:
            out += [("number", put((n2, c, s))) for n2 in NUMBERS if n2 != n]
    if len(caption) == 1 and caption[0][0] == 1 and caption[0][1] and caption[0][2]:
        out += [("next to", (caption[0], (1, c2, s2))) for c2 in COLOURS for s2 in SHAPES]
    return [(kind, e) for kind, e in out if e in CAPTION_INDEX and e != caption]


def false_edits(photo: Photo, caption: Caption) -> list[tuple[str, Caption]]:
    return [(kind, e) for kind, e in edits(caption) if not is_true(photo, e)]


def pick_edit(options: list[tuple[str, Caption]], rng: np.random.Generator) -> Caption | None:
    """One of ``options``, the kind first (uniformly over the kinds there), then an edit of it:
    otherwise the ~20 "next to" edits of a one-clause caption would drown its 3 shape swaps."""
    kinds = sorted({kind for kind, _ in options})
    if not kinds:
        return None
    kind = kinds[int(rng.integers(len(kinds)))]
    of_kind = [e for k, e in options if k == kind]
    return of_kind[int(rng.integers(len(of_kind)))]


def swap_negative(photo: Photo, rng: np.random.Generator) -> Caption | None:
    """A false one-clause caption that names one item of the photo with a wrong shape (or colour),
    preferring the shape or colour of *another* item there ("a red square" for a red circle beside
    a blue square): true of neither, it can only be told apart by binding colour to shape where
    the item is, which is what the map should show. ``None`` if there is none."""
    item = photo.items[int(rng.integers(len(photo.items)))]
    others = [it for it in photo.items if it is not item]
    borrowed = [(1, item.colour, o.shape) for o in others] + [
        (1, o.colour, item.shape) for o in others
    ]
    shapes = [(1, item.colour, s) for s in SHAPES if s != item.shape]
    for pool in (borrowed, shapes):
        false = [c for c in pool if not is_true(photo, (c,))]
        if false:
            return (false[int(rng.integers(len(false)))],)
    return None


# ----------------------------------------------------------------------------------- model


def write_vocab(folder: Path) -> Path:
    chars = list(dict.fromkeys(c.lower() for c in string.printable if not c.isspace()))
    vocab = SPECIALS + WORDS + chars + [f"##{c}" for c in chars]
    path = folder / "vocab.txt"
    path.write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    return path


VISION_WIDTH = 64


def miniature_config():
    """128-px ViT (8 x 8 patches of 16 px, ``VISION_WIDTH`` wide) and a 3-layer text encoder 64
    wide. The text
    vocabulary keeps BLIP's 30524 rows so that [ENC] (row 30523) exists; rows no token uses stay
    zero (they compress to nothing)."""
    from transformers import BlipConfig

    return BlipConfig(
        vision_config=dict(
            hidden_size=VISION_WIDTH,
            intermediate_size=2 * VISION_WIDTH,
            num_hidden_layers=4,
            num_attention_heads=4,
            image_size=IMAGE_SIZE,
            patch_size=PATCH_SIZE,
            initializer_range=0.02,
        ),
        text_config=dict(
            vocab_size=30524,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=3,
            num_attention_heads=4,
            encoder_hidden_size=VISION_WIDTH,
            max_position_embeddings=40,
            initializer_range=0.02,
        ),
        image_text_hidden_size=32,
        initializer_range=0.02,
    )


def tokenizer_and_processor(folder: Path):
    from transformers import BertTokenizerFast, BlipProcessor

    try:
        from transformers import BlipImageProcessorPil as ImageProcessor
    except ImportError:  # transformers < 5
        from transformers import BlipImageProcessor as ImageProcessor

    # transformers 5 ignores ``vocab_file=`` (a 5-token vocabulary: every word [UNK]); pass the dict.
    vocab = write_vocab(folder).read_text(encoding="utf-8").split("\n")
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(v for v in vocab if v)})
    processor = BlipProcessor(
        image_processor=ImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        tokenizer=tokenizer,
    )
    return tokenizer, processor


# ----------------------------------------------------------------------------------- figures


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def prf(predicted, labels) -> tuple[float, float, float]:
    """Precision, recall and F1 (0 where undefined)."""
    p = np.asarray(predicted, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    tp = float((p & y).sum())
    precision = tp / p.sum() if p.sum() else 0.0
    recall = tp / y.sum() if y.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclass(frozen=True)
class Pairs:
    """A held-out evaluation set: (photo, caption, truth, kind) rows, with their photos."""

    photos: list[Photo]
    rows: list[tuple[int, str, bool, str]]  # photo index, caption text, true?, kind
    hard: list[tuple[int, str, str, str]]  # photo index, true caption, one-word edit, kind


def held_out_pairs(n_photos: int, seed: int = 777) -> Pairs:
    """Per photo: one true caption, one random false caption and one false one-word edit (in
    ``rows``); and per photo one (true caption, false edit) pair per edit kind it has (``hard``)."""
    rng = np.random.default_rng(seed)
    items = photos(n_photos, seed)
    rows: list[tuple[int, str, bool, str]] = []
    hard: list[tuple[int, str, str, str]] = []
    for i, photo in enumerate(items):
        truth = np.array([is_true(photo, c) for c in CAPTIONS])
        true_idx = np.flatnonzero(truth)
        w = np.array([caption_weight(CAPTIONS[k]) for k in true_idx])
        pos = CAPTIONS[int(rng.choice(true_idx, p=w / w.sum()))]
        neg = CAPTIONS[int(rng.choice(np.flatnonzero(~truth)))]
        rows.append((i, caption_text(pos), True, "true"))
        rows.append((i, caption_text(neg), False, "random"))
        by_kind: dict[str, list[Caption]] = {}
        for kind, e in false_edits(photo, pos):
            by_kind.setdefault(kind, []).append(e)
        if by_kind:
            kind = sorted(by_kind)[int(rng.integers(len(by_kind)))]
            e = by_kind[kind][int(rng.integers(len(by_kind[kind])))]
            rows.append((i, caption_text(e), False, kind))
        # hard pairs: the photo's full description(s) against each kind of edit
        full = [c for c in CAPTIONS if truth[CAPTION_INDEX[c]] and caption_weight(c) == 3.0]
        base = full[int(rng.integers(len(full)))]
        kinds: dict[str, list[Caption]] = {}
        for kind, e in false_edits(photo, base):
            kinds.setdefault(kind, []).append(e)
        for kind in sorted(kinds):
            e = kinds[kind][int(rng.integers(len(kinds[kind])))]
            hard.append((i, caption_text(base), caption_text(e), kind))
    return Pairs(items, rows, hard)


def evaluate(scorer, pairs: Pairs) -> dict:
    """ITM figures of a blipdesk ``Scorer`` on ``pairs``: AUC, F1 at 0.5, hard-negative accuracy."""
    images = model_inputs([render(p) for p in pairs.photos], scorer.image_size)
    features = scorer.encode_images(scorer.pixels(images))
    texts = sorted(
        {r[1] for r in pairs.rows} | {h[1] for h in pairs.hard} | {h[2] for h in pairs.hard}
    )
    col = {t: j for j, t in enumerate(texts)}
    itm = np.concatenate(
        [
            scorer.score_features(features.__class__(features.embeds[a : a + 64], features.itc[a : a + 64]),
                                  scorer.encode_sentences(texts)).itm
            for a in range(0, len(images), 64)
        ]
    )  # fmt: skip
    s = np.array([itm[i, col[t]] for i, t, _, _ in pairs.rows])
    y = np.array([truth for _, _, truth, _ in pairs.rows])
    precision, recall, f1 = prf(s >= 0.5, y)
    out: dict = {
        "pairs": len(pairs.rows),
        "auc": roc_auc(s, y),
        "precision@0.5": precision,
        "recall@0.5": recall,
        "f1@0.5": f1,
        "hard_negative_accuracy": {},
    }
    for kind in ("colour", "shape", "number", "next to", "random"):
        sel = np.array([r[3] in (kind, "true") for r in pairs.rows])
        sub_y = y[sel]
        if (~sub_y).any():
            out.setdefault("auc_by_negative", {})[kind] = roc_auc(s[sel], sub_y)
    wins: dict[str, list[bool]] = {}
    for i, pos, neg, kind in pairs.hard:
        wins.setdefault(kind, []).append(bool(itm[i, col[pos]] > itm[i, col[neg]]))
        wins.setdefault("all", []).append(bool(itm[i, col[pos]] > itm[i, col[neg]]))
    out["hard_negative_accuracy"] = {
        k: (float(np.mean(v)), len(v)) for k, v in sorted(wins.items())
    }
    return out


def load_figures(folder: Path = SHIPPED) -> dict:
    return json.loads((folder / "figures.json").read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------- localisation


def two_shape_photos(n: int = 40, seed: int = 8080) -> list[Photo]:
    """Held-out photos with exactly two items of different kinds (colour or shape)."""
    out: list[Photo] = []
    batch = 0
    while len(out) < n:
        for p in photos(4 * n, seed=seed + 7919 * batch):
            if len(p.items) == 2 and (p.items[0].colour, p.items[0].shape) != (
                p.items[1].colour,
                p.items[1].shape,
            ):
                out.append(p)
        batch += 1
    return out[:n]


def peak_in_box(photo: Photo, cam: np.ndarray, item: Item) -> bool:
    """The peak cell's centre, stretched back to the photo, lies inside the item's box."""
    rows, cols = cam.shape
    r, c = divmod(int(cam.argmax()), cols)
    x, y = (c + 0.5) / cols * photo.width, (r + 0.5) / rows * photo.height
    x0, y0, x1, y1 = item.box
    return x0 <= x <= x1 and y0 <= y <= y1


def mass_in_box(photo: Photo, cam: np.ndarray, item: Item) -> float:
    """The share of the map over the item's box (each cell weighted by how much of it the box
    covers, cells stretched back to the photo)."""
    rows, cols = cam.shape
    xs = np.linspace(0, photo.width, cols + 1)
    ys = np.linspace(0, photo.height, rows + 1)
    x0, y0, x1, y1 = item.box
    wx = np.clip(np.minimum(xs[1:], x1) - np.maximum(xs[:-1], x0), 0, None) / np.diff(xs)
    wy = np.clip(np.minimum(ys[1:], y1) - np.maximum(ys[:-1], y0), 0, None) / np.diff(ys)
    return float((cam * wy[:, None] * wx[None, :]).sum() / max(float(cam.sum()), 1e-12))


def localisation(scorer, layer, n: int = 40, seed: int = 8080) -> dict:
    """The issue's localisation figure: on ``n`` held-out two-shape photos, the Grad-CAM map of
    "a <colour> <shape>" naming one of them (alternately the first and the second) peaks inside
    that shape's box (``peak_in_box``, the rate the issue asks >= 85 % of), and puts more of its
    mass on it than on the other shape (``more_mass``). ``blipdesk.core.explain`` computes the
    maps from the photos' vision outputs, as the app does."""
    from blipdesk.core.explain import explain

    two = two_shape_photos(n, seed)
    features = scorer.encode_images(
        scorer.pixels(model_inputs([render(p) for p in two], scorer.image_size))
    )
    inside, more = [], []
    for k, photo in enumerate(two):
        item, rest = photo.items[k % 2], photo.items[1 - k % 2]
        result = explain(scorer, features.embeds[k], f"a {item.colour} {item.shape}", layer)
        inside.append(peak_in_box(photo, result.sentence_map, item))
        cam = result.sentence_map
        more.append(mass_in_box(photo, cam, item) > mass_in_box(photo, cam, rest))
    return {
        "photos": n,
        "seed": seed,
        "layer": list(np.atleast_1d(result.layer).tolist()),
        "grid": list(result.sentence_map.shape),
        "peak_in_box": float(np.mean(inside)),
        "more_mass": float(np.mean(more)),
    }
