"""``blipdesk explain PHOTO SENTENCE``: where in the photo BLIP looked to match the sentence.

    blipdesk explain PHOTO SENTENCE [--output FILE.png] [--words] [--json] [--layer N[,M…]]
                     [--model M] [--device D] [--precision P]

Prints the match probability and where the Grad-CAM map (``core/explain.py``) peaks; writes the
map over the photo (stretched back to the photo's aspect, with its colour scale) to ``--output``;
``--words`` adds each word-piece's peak; ``--json`` prints all of it, maps included, as JSON.
Uses the photo's cached vision output when the vision cache holds it (no decoding, no vision
pass). Never imports Qt.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blipdesk.cli.args import Commands, add_model_options, integer, sentence
from blipdesk.cli.context import Context
from blipdesk.infra.display import display_path, display_text

if TYPE_CHECKING:
    from blipdesk.store import Library


def register(commands: Commands) -> None:
    p = commands.add_parser("explain", help="show where a photo matches a sentence (Grad-CAM)")
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("sentence", type=sentence, metavar="SENTENCE")
    p.add_argument("--output", metavar="FILE.png", help="write the map over the photo here")
    p.add_argument("--words", action="store_true", help="also one map per word")
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.add_argument(
        "--layer",
        type=_layers,
        metavar="N[,M…]",
        help="text layer (default: LAVIS's depth), or several, comma-separated, summed",
    )
    add_model_options(p, compute=True, scanning=False)
    p.set_defaults(handler=run)


def run(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.core.engine import feature_store
    from blipdesk.core.explain import explain, overlay, photo_vision
    from blipdesk.core.imaging import decode_photo
    from blipdesk.infra.errors import PhotoError, UserError

    photo = Path(ns.photo).expanduser()
    if not photo.is_file():
        raise UserError(f"{display_path(ns.photo)} is not a photo file.")
    if ns.output:  # the map never replaces a photo, a sidecar, the model or the cache
        library = _cache(ctx)
        try:
            ctx.output_guard((), library, str(photo)).check(ns.output, picture=True)
        finally:
            if library is not None:
                library.close()
    try:  # an unreadable photo is said before the model loads (10-60 s), not after
        picture = decode_photo(photo)
    except PhotoError as exc:
        raise UserError(f"{display_path(ns.photo)}: {display_text(exc.reason)}") from None
    key = ctx.write_key()
    scorer = ctx.scorer()()
    with contextlib.ExitStack() as stack:
        try:
            library = stack.enter_context(ctx.library(readonly=True))
            store = feature_store(library, key, ctx.options())
        except Exception:  # no cache yet, or unreadable: a vision pass instead
            store = None
        try:
            embeds, cached = photo_vision(scorer, photo, store)
            result = explain(scorer, embeds, ns.sentence, ns.layer)
        except PhotoError as exc:
            raise UserError(f"{display_path(ns.photo)}: {display_text(exc.reason)}") from None
        except ValueError as exc:
            raise UserError(str(exc)) from None
    grid = result.sentence_map.shape[0]

    def where(cam: Any) -> dict[str, float]:
        r, c = divmod(int(cam.argmax()), grid)
        return {"row": r, "column": c, "x": (c + 0.5) / grid, "y": (r + 0.5) / grid}

    if ns.output:  # one writer for every output: atomic, never onto blipdesk's own files
        from blipdesk.infra.atomic import write_atomic

        png = io.BytesIO()
        overlay(picture, result.sentence_map).save(png, format="PNG")
        try:
            write_atomic(ns.output, png.getvalue(), protect=[ctx.paths.data_dir])
        except OSError as exc:
            raise UserError(
                f"Cannot write {display_path(ns.output)}: {exc.strerror or exc}"
            ) from None
    if ns.json:
        doc = {
            "photo": str(photo),
            "sentence": ns.sentence,
            "itm": result.itm,
            "layer": result.layer,
            "from_vision_cache": cached,
            "grid": grid,
            "peak": where(result.sentence_map),
            "map": result.sentence_map.round(6).tolist(),
        }
        if ns.words:
            doc["words"] = [
                {"word": w, "peak": where(cam), "map": cam.round(6).tolist()}
                for w, cam in result.words
            ]
        print(json.dumps(doc, indent=2))
        return 0
    peak = where(result.sentence_map)
    print(
        f"{ns.sentence!r}: match {result.itm:.3f}; the map peaks at x {peak['x']:.2f}, "
        f"y {peak['y']:.2f} of the photo (layer {result.layer}"
        + (", from the vision cache)" if cached else ")")
    )
    if ns.words:
        for word, cam in result.words:
            p = where(cam)
            print(f"  {word:<16} peaks at x {p['x']:.2f}, y {p['y']:.2f}")
    if ns.output:
        print(f"map written to {display_path(ns.output)}", file=sys.stderr)
    return 0


def _cache(ctx: Context) -> Library | None:
    """The cache, to know its photos by; None where there is none yet (or it cannot be read)."""
    if not ctx.paths.database.exists():
        return None
    try:
        return ctx.library(readonly=True)
    except Exception:  # unreadable: the folders and the model are still guarded
        return None


def _layers(text: str) -> int | tuple[int, ...]:
    """``--layer``: ``N`` or ``N,M,…`` (the maps of several text layers, summed)."""
    got = tuple(integer(t.strip()) for t in text.split(",") if t.strip())
    if not got:
        raise argparse.ArgumentTypeError(f"{text!r} names no layer: give N or N,M")
    return got[0] if len(got) == 1 else got
