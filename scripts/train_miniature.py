"""Train the miniature BLIP of tests/data/miniature-blip/ on drawn shapes (see tests/helpers/miniature.py).

    nice -n 15 python scripts/train_miniature.py [--out DIR] [--steps N] [--photos N]

Deterministic: fixed seeds, ``torch.use_deterministic_algorithms(True)``, one CPU thread. Losses,
as BLIP trains: ITC (image-text contrastive, soft targets over every caption in the batch that is
true of the photo, temperature 0.07) + ITM (binary match head) on, per batch of B photos:
B true captions, B more true captions, B negative captions and B negative photos mined from the
ITC similarities (sampled in proportion to softmax similarity among the false ones: hard negatives,
as BLIP does), and B one-word edits of the true captions that are false (colour, shape, number or
"next to" changed). Half of the ITM pairs start with [ENC] (as BLIP's own training), half with
[CLS] (as transformers' model card), so both first tokens work.

The weights are saved as float16 safetensors (the loader casts them to the placement's dtype);
then the folder is loaded back through ``blipdesk.core.model.load_model`` and its held-out figures
are written to figures.json beside the weights.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import miniature as mini  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=mini.SHIPPED)
    parser.add_argument("--steps", type=int, default=1800)
    parser.add_argument("--photos", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-photos", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--image-size", type=int, default=mini.IMAGE_SIZE, help="pixels (a multiple of --patch)"
    )
    parser.add_argument("--patch", type=int, default=mini.PATCH_SIZE, help="pixels per patch")
    parser.add_argument("--vision-width", type=int, default=mini.VISION_WIDTH)
    parser.add_argument(
        "--pretrain-steps",
        type=int,
        default=0,
        help="first train the image encoder alone on the photos' patch labels (what item covers"
        " each patch: its colour and shape), as BLIP starts from a pretrained ViT",
    )
    parser.add_argument(
        "--drop-cls",
        type=float,
        default=0.0,
        help="hide the image's [CLS] token from this share of the ITM pairs' cross-attention,"
        " so that matching must look at the patches (tried: no better, see the README)",
    )
    parser.add_argument(
        "--token-aux",
        type=float,
        default=0.0,
        help="keep the patch-label loss at this weight during the ITC + ITM training",
    )
    parser.add_argument(
        "--swaps",
        type=int,
        default=0,
        help="1: B more ITM negatives per batch that swap an item's shape or colour for another"
        " item's (the shipped model: 1; 0: off)",
    )
    parser.add_argument(
        "--edits-by-kind",
        action="store_true",
        help="pick the one-word edit's kind first, then the edit (as the shipped model; without"
        " it: uniformly over the edits, most of them 'next to')",
    )
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="no training: measure the model already in --out again (figures.json, README.md)",
    )
    args = parser.parse_args(argv)
    if args.measure_only:
        mini.IMAGE_SIZE = args.image_size
        out = Path(args.out)
        figures = json.loads((out / "figures.json").read_text(encoding="utf-8"))
        figures.update(measure(out, args.eval_photos))
        (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        (out / "README.md").write_text(readme(figures, figures.get("argv")), encoding="utf-8")
        print(json.dumps(figures, indent=2))
        return 0

    import torch
    import torch.nn.functional as F
    from transformers import BlipForImageTextRetrieval

    from blipdesk.core.imaging import CLIP_MEAN, CLIP_STD
    from blipdesk.core.model import ENC_TOKEN_ID

    mini.IMAGE_SIZE = args.image_size  # read by miniature_config and tokenizer_and_processor
    mini.PATCH_SIZE = args.patch
    mini.VISION_WIDTH = args.vision_width
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    started = time.monotonic()

    # ---- data: photos through blipdesk's own resize path, captions and their truth
    train = mini.photos(args.photos, seed=1 + args.seed)
    drawn = [mini.render_with_mask(p) for p in train]
    pixels = torch.from_numpy(mini.model_inputs([im for im, _ in drawn], args.image_size))
    patches = bool(args.pretrain_steps or args.token_aux)  # the patch labels are wanted
    if patches:
        patch_colour, patch_shape = (
            torch.from_numpy(a)
            for a in mini.patch_labels(train, [m for _, m in drawn], args.image_size, args.patch)
        )
    del drawn
    truth = torch.from_numpy(mini.truth_matrix(train))  # (N, C)
    weights = torch.tensor([mini.caption_weight(c) for c in mini.CAPTIONS])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer, processor = mini.tokenizer_and_processor(out)
    enc = tokenizer(
        [mini.caption_text(c) for c in mini.CAPTIONS], padding="longest", return_tensors="pt"
    )
    ids, mask = enc["input_ids"], enc["attention_mask"]
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    data_seconds = time.monotonic() - started
    print(
        f"data: {len(train)} photos, {len(mini.CAPTIONS)} captions, {data_seconds:.1f} s",
        flush=True,
    )

    # ---- model
    model = BlipForImageTextRetrieval(mini.miniature_config())
    emb = model.text_encoder.embeddings.word_embeddings.weight
    with torch.no_grad():  # rows no token uses: zero (and they stay zero: no gradient reaches them)
        used = torch.zeros(emb.shape[0], dtype=torch.bool)
        used[: len(tokenizer)] = True
        used[ENC_TOKEN_ID] = True
        emb[~used] = 0
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, args.steps // 15)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))

    b = args.batch
    train_started = time.monotonic()
    cpu_started = time.process_time()
    width = model.config.vision_config.hidden_size
    heads = torch.nn.ModuleDict(
        {"colour": torch.nn.Linear(width, len(mini.COLOURS) + 1),
         "shape": torch.nn.Linear(width, len(mini.SHAPES) + 1)}
        if patches
        else {}
    )  # fmt: skip

    def patch_loss(embeds, idx):
        tokens = embeds[:, 1:]
        return sum(
            F.cross_entropy(heads[k](tokens).flatten(0, 1), lab[idx].flatten(), ignore_index=-1)
            for k, lab in (("colour", patch_colour), ("shape", patch_shape))
        )

    if args.pretrain_steps:
        params = list(model.vision_model.parameters()) + list(heads.parameters())
        pre = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
        for step in range(args.pretrain_steps):
            for group in pre.param_groups:
                group["lr"] = args.lr * min(1.0, (step + 1) / 50)
            idx = torch.from_numpy(rng.choice(len(train), b, replace=False))
            img = (pixels[idx].permute(0, 3, 1, 2).float() / 255 - mean) / std
            loss = patch_loss(model.vision_model(pixel_values=img).last_hidden_state, idx)
            pre.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            pre.step()
            if step % 100 == 0 or step == args.pretrain_steps - 1:
                print(f"pretrain {step:5d}  patch labels {loss.item():.3f}  "
                      f"{time.monotonic() - train_started:.0f} s", flush=True)  # fmt: skip
        del pre
    if args.token_aux:
        opt.add_param_group({"params": list(heads.parameters())})
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        idx = torch.from_numpy(rng.choice(len(train), b, replace=False))
        t_rows = truth[idx].float() * weights  # (B, C)
        c1 = torch.multinomial(t_rows, 1, generator=gen).squeeze(1)
        c2 = torch.multinomial(t_rows, 1, generator=gen).squeeze(1)
        img = (pixels[idx].permute(0, 3, 1, 2).float() / 255 - mean) / std
        embeds = model.vision_model(pixel_values=img).last_hidden_state
        img_feat = F.normalize(model.vision_proj(embeds[:, 0]), dim=-1)
        text = model.text_encoder(input_ids=ids[c1], attention_mask=mask[c1]).last_hidden_state
        txt_feat = F.normalize(model.text_proj(text[:, 0]), dim=-1)
        sim = img_feat @ txt_feat.T / 0.07  # (B images, B texts)
        same = truth[idx][:, c1]  # (B, B): caption j true of photo i
        targets = same.float() / same.float().sum(1, keepdim=True)
        targets_t = same.T.float() / same.T.float().sum(1, keepdim=True)
        loss_itc = (
            -(
                (F.log_softmax(sim, 1) * targets).sum(1).mean()
                + (F.log_softmax(sim.T, 1) * targets_t).sum(1).mean()
            )
            / 2
        )

        with torch.no_grad():  # hard negatives from the ITC similarities, as BLIP mines them
            w_i2t = F.softmax(sim.float(), 1).masked_fill(same, 0) + 1e-9 * (~same)
            w_t2i = F.softmax(sim.T.float(), 1).masked_fill(same.T, 0) + 1e-9 * (~same.T)
            neg_text = c1[torch.multinomial(w_i2t, 1, generator=gen).squeeze(1)]
            neg_img = torch.multinomial(w_t2i, 1, generator=gen).squeeze(1)
        edited, swapped = [], []
        for k in range(b):
            photo = train[int(idx[k])]
            options = mini.false_edits(photo, mini.CAPTIONS[int(c1[k])])
            if args.edits_by_kind:
                edit = mini.pick_edit(options, rng)
            else:
                edit = options[int(rng.integers(len(options)))][1] if options else None
            edited.append(int(neg_text[k]) if edit is None else mini.CAPTION_INDEX[edit])
            swap = mini.swap_negative(photo, rng) if args.swaps else None
            swapped.append(int(neg_text[k]) if swap is None else mini.CAPTION_INDEX[swap])
        ar = torch.arange(b)
        img_idx = torch.cat([ar, ar, ar, neg_img, ar] + [ar] * bool(args.swaps))
        cap_idx = torch.cat(
            [c1, c2, neg_text, c1, torch.tensor(edited)]
            + [torch.tensor(swapped)] * bool(args.swaps)
        )
        labels = torch.cat([torch.ones(2 * b), torch.zeros(len(cap_idx) - 2 * b)]).long()
        pair_ids = ids[cap_idx].clone()
        use_enc = torch.rand(len(pair_ids), generator=gen) < 0.5
        pair_ids[use_enc, 0] = ENC_TOKEN_ID
        # --drop-cls: these pairs see the image's patches only. (Not through
        # encoder_attention_mask: transformers 5's BLIP text cross-attention ignores it.)
        hide = (
            torch.rand(len(img_idx), generator=gen) < args.drop_cls
            if args.drop_cls
            else torch.zeros(len(img_idx), dtype=torch.bool)
        )
        logits = torch.empty(len(img_idx), 2)
        for sel, first in ((~hide, 0), (hide, 1)):
            if sel.any():
                hidden = model.text_encoder(
                    input_ids=pair_ids[sel],
                    attention_mask=mask[cap_idx][sel],
                    encoder_hidden_states=embeds[img_idx[sel], first:],
                ).last_hidden_state
                logits[sel] = model.itm_head(hidden[:, 0])
        loss_itm = F.cross_entropy(logits, labels)
        loss = loss_itc + loss_itm
        if args.token_aux:
            loss = loss + args.token_aux * patch_loss(embeds, idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            acc = float((logits.argmax(1) == labels).float().mean())
            print(
                f"step {step:5d}  itc {loss_itc.item():.3f}  itm {loss_itm.item():.3f}  "
                f"itm acc {acc:.3f}  {time.monotonic() - train_started:.0f} s",
                flush=True,
            )
    train_seconds = time.monotonic() - train_started
    train_cpu_seconds = time.process_time() - cpu_started

    # ---- save as a real model folder, then measure it through blipdesk's loader
    model.eval()
    model.half().save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    if not args.eval_photos:
        print(f"trained in {train_seconds:.0f} s; not measured (--eval-photos 0)")
        return 0
    figures = measure(out, args.eval_photos)
    figures.update(
        steps=args.steps,
        batch=args.batch,
        train_photos=args.photos,
        seed=args.seed,
        data_seconds=round(data_seconds, 1),
        train_seconds=round(train_seconds, 1),
        train_cpu_seconds=round(train_cpu_seconds, 1),
        machine=f"{platform.machine()}, {args.threads} torch thread(s), shared CPU",
        torch=torch.__version__,
        argv=list(argv if argv is not None else sys.argv[1:]),
    )
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(readme(figures, figures["argv"]), encoding="utf-8")
    print(json.dumps(figures, indent=2))
    return 0


def _recipe(argv: list[str]) -> list[str]:
    """The command line's arguments without ``--out DIR`` (the README's folder is the output)."""
    out, skip = [], False
    for a in argv:
        if skip or a.startswith("--out="):
            skip = False
            continue
        if a == "--out":
            skip = True
            continue
        out.append(a)
    return out


def readme(figures: dict, argv: list[str] | None) -> str:
    """README.md for the model folder: what it is, how it was made, what it reached."""
    lines = [
        "# miniature-blip: a BLIP that has learned drawn shapes (a test fixture, not a real model)",
        "",
        "A `BlipForImageTextRetrieval` with the real classes and file formats (safetensors, float16;",
        f"BERT WordPiece tokenizer; BLIP image processor at {mini.IMAGE_SIZE} px), about 2 M parameters, trained on",
        "photos drawn by `tests/helpers/miniature.py` (one to three circles, squares, triangles or stars in",
        "red, green, blue, yellow or white over textured, noisy backgrounds) and their captions.",
        "The text embedding keeps BLIP's 30524 rows so that `[ENC]` (row 30523) exists; the rows no",
        "token uses are zero.",
        "",
        *(GRID_NOTE if mini.ON_GRID else []),
        "Made by (deterministic: fixed seeds, deterministic algorithms, one CPU thread):",
        "",
        "    nice -n 15 python scripts/train_miniature.py " + " ".join(_recipe(argv or [])),
        "",
        f"{figures['steps']} steps of {figures['batch']} photos (from {figures['train_photos']} drawn "
        f"photos): {figures['train_seconds']:.0f} s of training"
        + (
            f" ({figures['train_cpu_seconds']:.0f} s of CPU time)"
            if "train_cpu_seconds" in figures
            else ""
        )
        + f" after {figures['data_seconds']:.0f} s drawing, on {figures['machine']}.",
        "",
        f"Held out ({figures['held_out_photos']} photos never seen in training; per photo a true "
        "caption, a random false one and a false one-word edit), loaded through "
        "`blipdesk.core.model.load_model`:",
        "",
        "| first token | ROC-AUC | F1 at 0.5 | precision | recall | hard negatives: all | colour | shape | number | next to |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for first, f in figures["first_token"].items():
        h = f["hard_negative_accuracy"]
        cells = [
            f"{h[k][0]:.3f}" if k in h else "-"
            for k in ("all", "colour", "shape", "number", "next to")
        ]
        lines.append(
            f"| [{first.upper()}] | {f['auc']:.3f} | {f['f1@0.5']:.3f} | {f['precision@0.5']:.3f} | "
            f"{f['recall@0.5']:.3f} | " + " | ".join(cells) + " |"
        )
    loc = figures.get("localisation")
    if loc:
        lines += [
            "",
            "Grad-CAM localisation (blipdesk/core/explain.py; `mini.localisation`): on held-out",
            'photos with two shapes, the map of "a <colour> <shape>" naming one of them peaks inside',
            "that shape's box (and puts more mass on it than on the other shape), per text layer;",
            "a layer, or layers summed (`explain(..., layer=(0, 1))`), is chosen on 200 photos; the",
            "test (tests/unit/test_explain.py) uses 40 others:",
            "",
            "| text layers | peak in box, 200 photos | more mass, 200 | peak in box, test's 40 | more mass, 40 |",
            "| --- | --- | --- | --- | --- |",
        ]
        best = ",".join(map(str, loc["best_layers"]))
        for k, c in loc["choose_200"].items():
            t = loc["test_40"][k]
            name = k.replace(",", " + ") + (" (chosen)" if k == best else "")
            lines.append(
                f"| {name} | {c['peak_in_box']:.1%} | {c['more_mass']:.1%} | "
                f"{t['peak_in_box']:.1%} | {t['more_mass']:.1%} |"
            )
    lines += [
        "",
        "Hard negatives: how often the photo's true description scores above a one-word edit of it",
        "that is false (colour or shape swapped, number changed, or 'next to' an absent shape).",
        "All figures in figures.json. These are a miniature's figures, not the real model's.",
        "",
        *HISTORY,
    ]
    return "\n".join(lines)


GRID_NOTE = [
    "The shapes are drawn on the model's patch grid (`ON_GRID` in `tests/helpers/miniature.py`):",
    "each item covers 2 x 2 or 3 x 3 of the 8 x 8 cells of 16 px that the model sees (the photo",
    "squashed to 128 px square), starting on a cell boundary, so a circle is a slight ellipse in a",
    "photo that is not square. This is a fixture choice, so that a ViT trained for minutes on",
    "one CPU thread can learn the shapes: its patch embedding is linear over a patch, and a shape",
    "placed anywhere puts a different piece of it in each patch at every sub-patch offset (drawn",
    "anywhere, this ViT told squares from circles poorly; see the history below). The real model",
    "has no such limit, and blipdesk itself knows nothing of it.",
    "",
]

HISTORY = [
    "Other recipes tried (same seeds; one torch thread on the shared 2-core CPU):",
    "",
    "- 96 px (6 x 6 patches): 1800 steps (239 s) reached ROC-AUC 0.921, 3000 steps (641 s) 0.931,",
    "  the same hard-negative accuracy (0.88; shape swaps ~0.7); the map peaks in the named shape",
    "  for 50 % of the test's 40 photos (text layer 0), 75 % at 128 px: 128 px was kept.",
    "- B more ITM negatives per batch that swap an item's shape or colour for another item's",
    "  (`--swaps 1 --edits-by-kind`; 1800 steps, 362 s of CPU time): ROC-AUC 0.917, shape swaps",
    "  0.70, peak in the named shape 63 % of 200 photos / 67.5 % of the test's 40 (layer 0): no",
    "  better, so not kept.",
    "- 120 px with 12-px patches (10 x 10 grid; issue12-retrain, one torch thread, ~0.28 s a step,",
    "  so 1100 steps fit the ~5-minute budget): lr 1.5e-3, 313 s: ROC-AUC 0.894, hard negatives",
    "  0.83 (shape swaps 0.57), peak in the named shape 76 % of 200 photos / 75 % of the test's 40",
    "  (layers 0 + 1); lr 2.5e-3, 332 s: ROC-AUC 0.888, hard negatives 0.84 (shape 0.57), 76 % /",
    "  75 %. The finer grid gains ~3 points on the 200 photos, but 1100 steps leave the model",
    "  weaker than 1800 steps at 8 x 8: not kept. `--threads 2` on the shared 2-core machine took",
    "  3 s a step against 0.3-0.4 s with one thread (OpenMP threads waiting on each other).",
    "- Where the map fails (shipped weights, layers 0 + 1, 200 photos): the named shape has the",
    "  other's colour (33 photos): 39 %; the other's shape (45): 80 %; both differ (122): 80 %.",
    "  The model tells shapes apart poorly (shape swaps ~0.7), so 85 % needs a better shape",
    "  learner, not only a finer grid.",
    "- Smoothing the map (Gaussian, sigma 0.7 or 1 cell; or upsampled 4x) before taking its peak:",
    "  within a point of the raw peak. Summing text layers 0 and 1 (one backward pass): +11",
    "  points on the 200 photos, +5 on the test's 40, the layers chosen above.",
    "- Second session (quiet machine, 2026-11-28 07:15-08:40; each run one torch thread, two",
    "  at a time; peak in box on 200 photos / the test's 40, layers chosen on the 200):",
    "  10 x 10 grid, 2000 steps: 67 % / 67.5 % (ROC-AUC 0.918); the same with `--swaps 1",
    "  --edits-by-kind`: 61.5 % / 72.5 % (0.918); a vision encoder 128 wide (`--vision-width",
    "  128`), 8 x 8, 2000 steps: 70.5 % / 72.5 % (0.924); 128 wide at 10 x 10: 55 % / 42.5 %",
    "  (0.915); `--pretrain-steps 800` (the image encoder first learns which item covers each",
    "  patch, as BLIP starts from a pretrained ViT): 58 % / 57.5 % (0.930); the same plus",
    "  `--token-aux 0.3` (that loss kept during ITC + ITM): 70 % / 80 %, more mass 85 % on the",
    "  40 (ROC-AUC 0.940, F1 0.767, shape swaps 0.72): the best AUC so far, not better at",
    "  localising, so not shipped.",
    "- Why shapes stay weak: the miniature's ViT cannot learn them in this budget. Trained alone",
    "  to name the one shape of single-item photos (6,000 photos, batch 32), the 4-layer,",
    "  64-wide ViT of 16-px patches is at 40-45 % (chance 25 %) after 800-1,000 steps and 54 %",
    "  after 3,000; a 4-layer CNN on the same photos reaches 96 % after 300 steps and 99 %",
    "  after 400. Wider or shallower ViTs, 2 heads, batch 64, other learning rates, flips and",
    "  rotations, 20,000 photos, larger or smaller shapes, 2-D sin-cos positions, mimetic",
    "  attention initialisation (best: 58 % after 1,200 steps) and patch labels all stay under",
    "  60 %. The shipped model confuses square with circle (52 of 58 single squares scored",
    "  'circle' highest) and star with triangle (31 of 48). The map's misses follow: with the",
    "  colours different, its peak lands on the other item in 31 of 167 photos; the colour word",
    "  alone finds the named item in 78 % of them, the shape word in 49 %.",
    "- Which random stream a run gets moves the map by more than any recipe above. The same",
    "  recipe (`--pretrain-steps 800 --token-aux 0.3`, 1800 steps) with seeds 0, 1, 2, 3: 70 /",
    "  74.5 / 73 / 78 % on the 200 photos (80 / 77.5 / 75 / 75 % on the test's 40), ROC-AUC",
    "  0.931-0.940 (shipped: 73 %, 0.926). One more stream of it (extra random draws per step, from",
    "  a `--drop-cls` that did nothing: transformers 5's BLIP text cross-attention ignores",
    "  `encoder_attention_mask`) gave 82 % / 85 %, ROC-AUC 0.944: the luck of one draw, not a",
    "  recipe, so not shipped. With the [CLS] really hidden from half the ITM pairs (`--drop-cls",
    "  0.5`, now by leaving the token out): 78 % / 65 %.",
    "- Third session (2026-11-28, 09:28-10:18; one torch thread, one run at a time, the shared",
    "  2-core machine busy with another engineer's process: ~20 % slower a step than quiet): the",
    "  items drawn on the patch grid (`ON_GRID`, above). Peak in box on 200 photos / the test's",
    "  40, layers chosen on the 200: the default recipe, seed 0 (413 s): 75 % / 85 %, ROC-AUC",
    "  0.950, shape swaps 0.85 (0.71 drawn anywhere); `--pretrain-steps 800 --token-aux 0.3`,",
    "  seed 0 (494 s): 87 % / 82.5 %, ROC-AUC 0.989, shape swaps 0.98; that plus `--swaps 1",
    "  --edits-by-kind`, seeds 0 / 1 / 2 (495 / 461 / 436 s): 84 / 89.5 / 94.5 % on the 200,",
    "  85 / 90 / 97.5 % on the 40, ROC-AUC 0.992-0.995, shape swaps 0.99: every seed at the",
    "  issue's 85 %. With the shapes learned, the misses left are mostly two items of one",
    "  colour, where the shape word's map must find the named one. But 1800 steps after 800 of",
    "  pretraining took 383 s quiet, over the issue's ~5 minutes, so the steps were cut:",
    "  `--steps 1400 --pretrain-steps 600` with the same options, seeds 0 / 1 / 2 (two runs at a",
    "  time, one thread each; 304 / 302 / 291 s): 91.5 / 90 / 91 % on the 200, 97.5 / 90 / 90 %",
    "  on the 40 (seed 2 chose text layer 0 alone on the 200; its layers 0 + 1: 90.5 % / 85 %),",
    "  ROC-AUC 0.985-0.988, shape swaps 0.97-0.98: every seed at the goal within the budget;",
    "  seed 0 of it is shipped (above; retrained into this folder: 294 s, the same bytes).",
    "",
]


def measure(folder: Path, n_photos: int) -> dict:
    from blipdesk.core.device import resolve_placement
    from blipdesk.core.model import ModelSpec, load_model
    from blipdesk.core.scorer import Scorer

    loaded = load_model(ModelSpec(str(folder)), resolve_placement("cpu", "fp32"))
    pairs = mini.held_out_pairs(n_photos)
    return {
        "held_out_photos": n_photos,
        "first_token": {ft: mini.evaluate(Scorer(loaded, ft), pairs) for ft in ("cls", "enc")},
        "localisation": localisation(Scorer(loaded)),
    }


def localisation(scorer) -> dict:
    """Grad-CAM localisation (``mini.localisation``) of each text layer and of the layers summed
    (0+1, 0+1+2, ...): the choice is made on 200 two-shape photos of their own (seed 9090), then
    reported on the test's 40 (seed 8080). Keys: the layers, comma-separated."""
    n_layers = len(scorer.model.text_encoder.encoder.layer)
    candidates = [(k,) for k in range(n_layers)] + [tuple(range(k + 1)) for k in range(1, n_layers)]
    choose = {c: mini.localisation(scorer, c, n=200, seed=9090) for c in candidates}
    best = max(
        candidates, key=lambda c: (choose[c]["peak_in_box"], choose[c]["more_mass"], -len(c))
    )
    test = {c: mini.localisation(scorer, c, n=40, seed=8080) for c in candidates}

    def key(c: tuple[int, ...]) -> str:
        return ",".join(map(str, c))

    return {
        "best_layers": list(best),
        "choose_200": {key(c): v for c, v in choose.items()},
        "test_40": {key(c): v for c, v in test.items()},
    }


if __name__ == "__main__":
    raise SystemExit(main())
