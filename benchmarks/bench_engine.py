"""Scoring-engine benchmark: the model card's per-pair usage against blipdesk's engine, same run.

Builds the ``Salesforce/blip-itm-large-flickr`` architecture (ViT-L/16 at 384 px, 24 layers,
hidden 1024; BERT-base text encoder with cross-attention to 1024-d image tokens; 256-d ITC
projections; ~446 M parameters) with random weights — the real model's compute — and a
realistic 12-MP JPEG, then prints one table. Never asserts on time.

    python benchmarks/bench_engine.py                 # CPU
    python benchmarks/bench_engine.py --device cuda   # adds the GPU rows (batching, end to end)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blipdesk.core.device import Placement, configure_threads, cpu_has_native_bf16
from blipdesk.core.imaging import DecodeOptions, decode_photo, load_for_model, resize_for_model
from blipdesk.core.model import ImageSettings, LoadedModel, ModelIdentity
from blipdesk.core.scorer import Scorer
from tests.helpers.models import (
    SAMPLE_SENTENCES,
    large_config,
    scene,
    tiny_config,
    word_piece_tokenizer,
)

SENTENCE_POOL = SAMPLE_SENTENCES

ROWS: list[tuple[str, str, str]] = []


def row(what: str, value: str, note: str = "") -> None:
    ROWS.append((what, value, note))
    print(f"  {what:<58} {value:>16}  {note}", flush=True)


def sentences(n: int) -> list[str]:
    return [
        f"{SENTENCE_POOL[i % len(SENTENCE_POOL)]} {'' if i < len(SENTENCE_POOL) else f'number {i}'}".strip()
        for i in range(n)
    ]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn, device, repeat: int = 3, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def vision_gflop(cfg) -> float:
    v = cfg.vision_config
    n = (v.image_size // v.patch_size) ** 2 + 1
    d, f = v.hidden_size, v.intermediate_size
    per_layer = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + 2 * 2 * n * d * f
    return (per_layer * v.num_hidden_layers + 2 * (n - 1) * 3 * v.patch_size**2 * d) / 1e9


def matmul_ceiling(device, dtype, n: int = 2048) -> float:
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    reps = 3 if device.type == "cpu" else 50
    t = timeit(lambda: [a @ b for _ in range(reps)], device, repeat=3)
    return 2 * n**3 * reps / t / 1e9


def build(device: torch.device, dtype: torch.dtype, folder: Path, tiny: bool = False):
    from transformers import BlipForImageTextRetrieval

    torch.manual_seed(0)
    cfg = tiny_config() if tiny else large_config()
    model = BlipForImageTextRetrieval(cfg).eval().requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    model.to(device=device, dtype=dtype)
    tokenizer = word_piece_tokenizer(folder)
    loaded = LoadedModel(
        model,
        tokenizer,
        ImageSettings(
            384, (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
        ),
        Placement(device, dtype),
        ModelIdentity("random blip-itm-large architecture", None, "bench"),
        folder,
    )
    return cfg, model, tokenizer, loaded, n_params


def model_card_pair(model, processor, image, sentence, device, dtype):
    """The model card, verbatim: processor(image, text) then the two calls."""
    inputs = processor(image, sentence, return_tensors="pt").to(device)
    inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
    with torch.no_grad():
        itm_scores = model(**inputs)[0]
        cosine_score = model(**inputs, use_itm_head=False)[0]
    return itm_scores, cosine_score


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    ap.add_argument("--e2e-photos", type=int, default=1024)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--tiny", action="store_true", help="smoke-test the script with the tiny model")
    args = ap.parse_args()
    device = torch.device(args.device)
    threads = configure_threads()
    tmp = Path(tempfile.mkdtemp(prefix="blipdesk-bench-"))
    rep = 1 if args.quick else 3

    print(f"# blipdesk engine benchmark — torch {torch.__version__}, device {device}", flush=True)
    if device.type == "cuda":
        print(f"# GPU: {torch.cuda.get_device_name(device)}")
    else:
        print(
            f"# CPU threads: {threads}; native bf16: {cpu_has_native_bf16()}; capability: "
            f"{torch.backends.cpu.get_cpu_capability()}"
        )

    # --- the 12-MP photo ------------------------------------------------------------------
    jpeg = tmp / "photo-12mp.jpg"
    scene(4000, 3000, 7).save(jpeg, quality=90)
    from transformers import BlipProcessor

    try:
        from transformers import BlipImageProcessorPil as ImageProcessor
    except ImportError:
        from transformers import BlipImageProcessor as ImageProcessor

    processor = BlipProcessor(
        image_processor=ImageProcessor(),
        tokenizer=word_piece_tokenizer(tmp),
    )
    t_full = timeit(
        lambda: processor(
            images=decode_photo(jpeg, DecodeOptions(draft_size=None)), return_tensors="pt"
        ),
        torch.device("cpu"),
        repeat=rep,
    )
    t_draft = timeit(lambda: resize_for_model(decode_photo(jpeg)), torch.device("cpu"), repeat=rep)
    print("\n## decoding a 12-MP JPEG (one process)")
    row("decode + processor, full resolution", f"{t_full * 1e3:.0f} ms")
    row(
        "decode with draft + bicubic squash (engine)",
        f"{t_draft * 1e3:.0f} ms",
        f"{t_full / t_draft:.1f}x faster",
    )

    # --- fp32 model -----------------------------------------------------------------------
    dtype = torch.float32 if device.type == "cpu" else torch.float16
    cfg, model, tokenizer, loaded, n_params = build(device, dtype, tmp, args.tiny)
    gflop = vision_gflop(cfg)
    print(
        f"\n## model: {n_params / 1e6:.0f} M parameters, vision pass {gflop:.0f} GFLOP, {str(dtype)[6:]}"
    )
    processor.tokenizer = tokenizer
    photo = decode_photo(jpeg)
    scorer = Scorer(loaded)
    pixels = scorer.pixels(resize_for_model(photo)[None])

    t_card = timeit(
        lambda: model_card_pair(model, processor, photo, SENTENCE_POOL[0], device, dtype),
        device,
        repeat=rep,
    )
    row("model card: one (photo, sentence) pair, ITM + ITC calls", f"{t_card:.3f} s")

    t_vision_stock = timeit(lambda: model.vision_model(pixel_values=pixels), device, repeat=rep)
    t_vision = timeit(lambda: scorer.encode_images(pixels), device, repeat=rep)
    row("vision pass, stock eager attention (1 photo)", f"{t_vision_stock:.3f} s")
    row(
        "vision pass, engine (SDPA) (1 photo)",
        f"{t_vision:.3f} s",
        f"{gflop / t_vision:.0f} GFLOP/s",
    )

    engine_times = {}
    for n in (1, 20, 100):
        sent = scorer.encode_sentences(sentences(n))
        t = timeit(lambda: scorer.score(resize_for_model(photo)[None], sent), device, repeat=rep)
        engine_times[n] = t
        card = t_card * n
        row(
            f"engine, 1 photo x {n} sentences (vision + ITM + ITC)",
            f"{t:.3f} s",
            f"model card {card:.1f} s -> {card / t:.0f}x faster",
        )
    per_sentence = (engine_times[100] - engine_times[20]) / 80
    row(
        "each additional sentence (from 20 to 100)",
        f"{per_sentence * 1e3:.1f} ms",
        f"{100 * per_sentence / t_vision:.1f}% of a vision pass",
    )

    ceiling = matmul_ceiling(device, dtype)
    row(
        f"matmul ceiling ({str(dtype)[6:]})",
        f"{ceiling:.0f} GFLOP/s",
        f"vision pass at {100 * gflop / t_vision / ceiling:.0f}% of it; {gflop / ceiling:.2f} s at the ceiling "
        f"-> {t_vision / (gflop / ceiling):.2f}x",
    )

    if device.type == "cpu" and not cpu_has_native_bf16():
        c16 = matmul_ceiling(device, torch.bfloat16, n=512)
        row(
            "matmul ceiling (bf16, emulated: no native bf16)",
            f"{c16:.0f} GFLOP/s",
            f"{ceiling / c16:.0f}x slower than fp32: auto precision picks fp32 here; bf16 rows skipped",
        )
    elif device.type == "cpu":
        # bf16 weights, the same scorer code.
        model.to(torch.bfloat16)
        loaded.placement = Placement(device, torch.bfloat16)
        scorer16 = Scorer(loaded)
        px16 = scorer16.pixels(resize_for_model(photo)[None])
        t_v16 = timeit(lambda: scorer16.encode_images(px16), device, repeat=rep)
        c16 = matmul_ceiling(device, torch.bfloat16)
        row(
            "vision pass, bf16 weights (1 photo)",
            f"{t_v16:.3f} s",
            f"fp32/bf16 = {t_vision / t_v16:.2f}",
        )
        row(
            "matmul ceiling (bf16)",
            f"{c16:.0f} GFLOP/s",
            f"vision at {100 * gflop / t_v16 / c16:.0f}% of it; {gflop / c16:.2f} s at the ceiling -> {t_v16 / (gflop / c16):.2f}x",
        )
        px16b = px16.expand(4, -1, -1, -1).contiguous()
        t_v16b = timeit(lambda: scorer16.encode_images(px16b), device, repeat=rep) / 4
        row(
            "vision pass, bf16, batch of 4 photos (per photo)",
            f"{t_v16b:.3f} s",
            f"vision at {100 * gflop / t_v16b / c16:.0f}% of the bf16 ceiling -> {t_v16b / (gflop / c16):.2f}x",
        )
        bf16_times = {}
        for n in (20, 100):
            sent_n = scorer16.encode_sentences(sentences(n))
            bf16_times[n] = timeit(
                lambda: scorer16.score(resize_for_model(photo)[None], sent_n), device, repeat=rep
            )
        row(
            "engine bf16, 1 photo x 20 sentences",
            f"{bf16_times[20]:.3f} s",
            f"model card fp32 loop {t_card * 20:.1f} s -> {t_card * 20 / bf16_times[20]:.0f}x faster",
        )
        per16 = (bf16_times[100] - bf16_times[20]) / 80
        row(
            "bf16: each additional sentence (20 to 100)",
            f"{per16 * 1e3:.1f} ms",
            f"{100 * per16 / t_v16:.1f}% of a bf16 vision pass",
        )
    if device.type == "cpu":
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row("peak resident memory (process)", f"{peak:.0f} MiB")
    else:
        gpu_rows(args, device, model, scorer, loaded, photo, jpeg, tmp, gflop, t_card)

    print("\n| measurement | value | note |\n|---|---|---|")
    for what, value, note in ROWS:
        print(f"| {what} | {value} | {note} |")


def gpu_rows(args, device, model, scorer, loaded, photo, jpeg, tmp, gflop, t_card) -> None:
    print("\n## GPU: batching")
    base = torch.from_numpy(resize_for_model(photo))
    for batch in (64, 128):
        px = scorer.pixels(base.expand(batch, -1, -1, -1).clone().numpy())
        px = px + 0.01 * torch.randn_like(px)
        t_stock = timeit(lambda: model.vision_model(pixel_values=px), device, repeat=5)
        t_ours = timeit(lambda: scorer.encode_images(px), device, repeat=5)
        row(f"vision pass fp16, batch {batch}: stock eager", f"{batch / t_stock:.0f} photos/s")
        row(
            f"vision pass fp16, batch {batch}: engine SDPA",
            f"{batch / t_ours:.0f} photos/s",
            f"{gflop * batch / t_ours / 1e3:.0f} TFLOP/s",
        )

    sent = scorer.encode_sentences(sentences(20))
    ids, mask = sent.input_ids, sent.attention_mask
    p = 32
    px = scorer.pixels(base.expand(p, -1, -1, -1).clone().numpy())
    feats = scorer.encode_images(px + 0.01 * torch.randn_like(px))
    te = model.text_encoder

    def stock_shared():
        with torch.no_grad():
            for i in range(p):  # one call per photo, image tokens broadcast over its 20 sentences
                h = te(
                    input_ids=ids,
                    attention_mask=mask,
                    encoder_hidden_states=feats.embeds[i : i + 1],
                ).last_hidden_state
                model.itm_head(h[:, 0])

    def stock_expanded():
        with torch.no_grad():  # 32 photos per call, image tokens repeated per pair
            h = te(
                input_ids=ids.repeat(p, 1),
                attention_mask=mask.repeat(p, 1),
                encoder_hidden_states=feats.embeds.repeat_interleave(len(sent), 0),
            ).last_hidden_state
            model.itm_head(h[:, 0])

    t_a = timeit(stock_shared, device, repeat=3)
    t_b = timeit(stock_expanded, device, repeat=3)
    t_c = timeit(lambda: scorer.itm_logits(feats, sent), device, repeat=5)
    row("ITM 20 sentences: stock, 1 call per photo (shared)", f"{p / t_a:.0f} photos/s")
    row("ITM 20 sentences: stock, 32 photos/call (expanded)", f"{p / t_b:.0f} photos/s")
    row("ITM 20 sentences: engine, 32 photos/call (shared)", f"{p / t_c:.0f} photos/s")
    torch.cuda.reset_peak_memory_stats(device)

    # Parity on the GPU: fp16 engine vs the model card's fp32 calls.
    print("\n## GPU: fp16 engine vs model card fp32 (random weights)")
    from transformers import BlipProcessor

    model32 = model.float()
    loaded.placement = Placement(device, torch.float32)
    sc32 = Scorer(loaded)
    s32 = sc32.score(resize_for_model(photo)[None], sc32.encode_sentences(SENTENCE_POOL[:4]))

    try:
        from transformers import BlipImageProcessorPil as ImageProcessor
    except ImportError:
        from transformers import BlipImageProcessor as ImageProcessor
    card_proc = BlipProcessor(image_processor=ImageProcessor(), tokenizer=loaded.tokenizer)
    worst = 0.0
    for j, s in enumerate(SENTENCE_POOL[:4]):
        itm, cos = model_card_pair(model32, card_proc, photo, s, device, torch.float32)
        prob = torch.softmax(itm.float(), 1)[0, 1].item()
        worst = max(
            worst, abs(prob - float(s32.itm[0, j])), abs(cos.item() - float(s32.cosine[0, j]))
        )
    row("engine fp32 on GPU vs model card fp32: max |diff|", f"{worst:.1e}")
    model.half()
    loaded.placement = Placement(device, torch.float16)
    sc16 = Scorer(loaded)
    s16 = sc16.score(resize_for_model(photo)[None], sc16.encode_sentences(SENTENCE_POOL[:4]))
    row(
        "engine fp16 vs fp32: max |d itm|, |d cosine|",
        f"{np.abs(s16.itm - s32.itm).max():.1e}, {np.abs(s16.cosine - s32.cosine).max():.1e}",
    )

    # End to end: 12-MP JPEGs decoded in parallel processes, fp16, 20 sentences.
    print(
        f"\n## GPU: end to end, {args.e2e_photos} 12-MP JPEGs, {args.workers} decode processes, 20 sentences"
    )
    files = [tmp / f"e2e-{i}.jpg" for i in range(16)]
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(_make_jpeg, [(str(f), i) for i, f in enumerate(files)]))
        paths = [str(files[i % len(files)]) for i in range(args.e2e_photos)]
        list(pool.map(load_for_model, paths[: args.workers * 2]))  # warm the workers
        t_dec = time.perf_counter()
        list(pool.map(load_for_model, paths[:256], chunksize=4))
        dec_rate = 256 / (time.perf_counter() - t_dec)
        row("decode only (draft + squash), parallel", f"{dec_rate:.0f} photos/s")
        sent = sc16.encode_sentences(sentences(20))
        batch = 64
        t0 = time.perf_counter()
        done = 0
        buf = []
        for arr in pool.map(load_for_model, paths, chunksize=4):
            buf.append(arr)
            if len(buf) == batch:
                sc16.score(np.stack(buf), sent)
                done += len(buf)
                buf = []
        if buf:
            sc16.score(np.stack(buf), sent)
            done += len(buf)
        sync(device)
        e2e = done / (time.perf_counter() - t0)
    row(
        "end to end: decode + vision + ITM + ITC, fp16",
        f"{e2e:.0f} photos/s",
        f"model card fp16 loop: {1 / (t_card * 20):.2f} photos/s -> {e2e * t_card * 20:.0f}x",
    )
    row("peak GPU memory", f"{torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")


def _make_jpeg(job) -> None:
    path, seed = job
    scene(4000, 3000, seed).save(path, quality=90)


if __name__ == "__main__":
    main()
