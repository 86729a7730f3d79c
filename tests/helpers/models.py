"""Random BLIP models saved as real model folders, for tests and benchmarks.

There are no real weights in CI (no network), so tests build a small random
``BlipForImageTextRetrieval`` with the real classes, save it with ``save_pretrained`` (safetensors,
config, tokenizer, image processor) and load it back through the same code path users hit.
Benchmarks build the full ``blip-itm-large-flickr`` architecture the same way: random weights,
real compute.

Beware ``BlipVisionConfig``'s default ``initializer_range`` of 1e-10: with it, a random vision
tower ignores its input and every photo scores the same. The configs here set a real range, and
``tests/unit/test_fixture.py`` proves that different photos score differently.
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Tag-like sentences of realistic length, for benchmarks.
SAMPLE_SENTENCES = (
    "a woman and a dog sitting together on a beach",
    "birthday cake with candles",
    "a red car parked on a city street",
    "two children playing in the snow",
    "a plate of food on a wooden table",
    "mountains reflected in a lake at sunset",
    "a cat sleeping on a sofa",
    "people walking in a park with trees",
    "a boat on the sea",
    "a group of friends at a party",
)
WORDS = (
    "a an the of on in with and at by to for from is are two three dog dogs cat cats woman man "
    "child people beach sea sand sunset mountain mountains snow tree trees forest city street car "
    "bicycle cake birthday candles sitting standing walking running together photo picture red "
    "blue green white black yellow sky water river lake boat house dinner food table party "
    # Every word of SAMPLE_SENTENCES is one token, as in BERT-uncased's vocabulary: benchmark
    # sentences are as long in tokens as with the real model.
    "children playing parked plate wooden reflected sleeping sofa park group friends"
).split()


def write_vocab(folder: Path) -> Path:
    """A BERT-uncased style WordPiece vocab: specials, some words, and every ASCII character (also
    as a ``##`` continuation) so that any ASCII text tokenises without ``[UNK]``."""
    chars = [c for c in string.printable if not c.isspace()]
    chars = list(dict.fromkeys(c.lower() for c in chars))
    vocab = SPECIALS + WORDS + chars + [f"##{c}" for c in chars]
    path = folder / "vocab.txt"
    path.write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    return path


def word_piece_tokenizer(folder: Path):
    """A BERT WordPiece tokenizer over ``write_vocab``'s vocabulary, saved into ``folder`` by
    ``save_pretrained`` like a real model's.

    ``BertTokenizerFast(vocab_file=...)`` would be the obvious call, but transformers 5 ignores
    the file there and builds a 5-token vocabulary: every word became [UNK], so sentences
    differed only by length. The vocabulary goes in as a mapping instead."""
    from transformers import BertTokenizerFast

    words = write_vocab(folder).read_text(encoding="utf-8").split("\n")
    vocab = {w: i for i, w in enumerate(w for w in words if w)}
    return BertTokenizerFast(vocab=vocab, do_lower_case=True)


def tiny_config(seed_range: float = 0.2):
    """Two vision layers and two text layers of width 32, at the real 384-px input size."""
    from transformers import BlipConfig

    return BlipConfig(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=384,
            patch_size=16,
            initializer_range=seed_range,
        ),
        text_config=dict(
            vocab_size=30524,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            encoder_hidden_size=32,
            max_position_embeddings=512,
            initializer_range=seed_range,
        ),
        image_text_hidden_size=16,
        initializer_range=seed_range,
    )


def large_config():
    """``Salesforce/blip-itm-large-flickr``'s architecture: ViT-L/16 at 384 px + BERT-base (446 M)."""
    return _flickr_config(width=1024, layers=24, heads=16)


def base_config():
    """``Salesforce/blip-itm-base-flickr``'s architecture: ViT-B/16 at 384 px + BERT-base."""
    return _flickr_config(width=768, layers=12, heads=12)


def _flickr_config(width: int, layers: int, heads: int):
    """A released blip-itm-*-flickr architecture: a ViT/16 at 384 px of this size, BERT-base text
    with cross-attention to its ``width``-wide tokens, 256-d ITC projections."""
    from transformers import BlipConfig

    return BlipConfig(
        vision_config=dict(
            hidden_size=width,
            intermediate_size=4 * width,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            image_size=384,
            patch_size=16,
            initializer_range=0.02,
        ),
        text_config=dict(vocab_size=30524, encoder_hidden_size=width, initializer_range=0.02),
        image_text_hidden_size=256,
        initializer_range=0.02,
    )


def build_random_blip(folder: str | Path, config=None, seed: int = 0) -> Path:
    """Save a random ``BlipForImageTextRetrieval`` + tokenizer + image processor to ``folder``."""
    import torch
    from transformers import BlipForImageTextRetrieval, BlipProcessor

    try:
        from transformers import BlipImageProcessorPil as ImageProcessor
    except ImportError:  # transformers < 5 has a single (PIL) BlipImageProcessor
        from transformers import BlipImageProcessor as ImageProcessor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = BlipForImageTextRetrieval(config if config is not None else tiny_config())
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer = word_piece_tokenizer(folder)
    processor = BlipProcessor(image_processor=ImageProcessor(), tokenizer=tokenizer)
    processor.save_pretrained(folder)
    return folder


def scene(width: int, height: int, seed: int = 0):
    """A deterministic, photo-like RGB image: gradients plus a few shapes (compresses like a photo)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            128 + 100 * np.sin(x / (width / (2 + seed % 3)) + seed),
            128 + 100 * np.cos(y / (height / (1 + seed % 4))),
            128 + 80 * np.sin((x + y) / ((width + height) / 5)),
        ],
        axis=-1,
    )
    base += rng.normal(0, 6, base.shape)
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(max(2, min(width, height) // 20), max(3, min(width, height) // 4)))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=color)
    return im


def write_scene_jpeg(job: tuple[str, int, int, int]) -> None:
    """``(path, width, height, seed)``: ``scene`` saved as a JPEG (quality 90); a top-level
    function, so benchmarks can hand it to a process pool."""
    path, width, height, seed = job
    scene(width, height, seed).save(path, quality=90)


def make_awkward_photos(folder: str | Path) -> dict[str, Path]:
    """Readable but awkward photos, one per decoding rule: EXIF-rotated JPEG, CMYK (with and without
    an ICC profile), RGBA, LA, palette with transparency, grayscale, 16-bit grayscale PNG, 1x1."""
    import numpy as np
    from PIL import Image, ImageCms

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def save(name: str, im, **kw) -> None:
        path = folder / name
        im.save(path, **kw)
        out[name] = path

    save("plain.png", scene(320, 240, 1))
    rotated = scene(400, 300, 2)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    save("rotated-exif6.jpg", rotated, quality=92, exif=exif.tobytes())
    save("rotated-exif6.png", rotated, exif=exif.tobytes())
    cmyk = scene(300, 200, 3).convert("CMYK")
    save("cmyk.jpg", cmyk, quality=92)
    save("cmyk.tif", cmyk)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    save("rgb-icc.png", scene(200, 200, 4), icc_profile=srgb.tobytes())
    rgba = scene(256, 256, 5).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    save("rgba.png", rgba)
    la = scene(128, 160, 6).convert("LA")
    save("la.png", la)
    pal = scene(180, 120, 7).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    save("palette-transparent.png", pal, transparency=0)
    save("gray.png", scene(220, 220, 8).convert("L"))
    ramp = (np.linspace(0, 65535, 300 * 200).reshape(200, 300)).astype(np.uint16)
    save("gray16.png", Image.fromarray(ramp))
    save("one-pixel.png", Image.new("RGB", (1, 1), (200, 30, 90)))
    save("bilevel.png", scene(160, 160, 9).convert("1"))
    return out
