"""Teaching tags from the command line (issue 13): labels, calibration, more like this.

    blipdesk label TAG yes|no|clear PHOTO...
    blipdesk tags calibrate TAG [--apply | --reset] [--json] [--model M]
    blipdesk tags from-examples NAME PHOTO... [--no PHOTO...]
    blipdesk similar PHOTO... FOLDER... [--top K] [--json] [--model M]

Labels are stored by the photos' content (a rename or a move keeps them). ``tags calibrate``
prints what the labels support (``core/calibration.py``): each step's leave-one-out agreement,
the estimated F1 over the photos today and with the proposal, and what applying it would
change; ``--apply`` applies it (read-time: never a rescan), ``--reset`` goes back to the plain
threshold. ``similar`` ranks the folders' photos by their
cached ITC vectors; its near-duplicates are burst frames and re-exports (``services/near.py``). None of them loads the model; none imports Qt or torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from blipdesk.cli.args import Commands, add_model_options, positive_int
from blipdesk.cli.context import Context
from blipdesk.infra.display import display_path, display_text

VALUES = {"yes": True, "no": False, "clear": None}


def register(commands: Commands) -> None:
    label = commands.add_parser("label", help="confirm (yes), reject (no) or clear a tag on photos")
    label.add_argument("tag", metavar="TAG")
    label.add_argument("value", choices=tuple(VALUES), metavar="yes|no|clear")
    label.add_argument("photos", nargs="+", metavar="PHOTO")
    label.set_defaults(handler=label_photos)

    sim = commands.add_parser("similar", help="rank photos in folders by likeness to some photos")
    sim.add_argument("paths", nargs="+", metavar="PHOTO... FOLDER...")
    sim.add_argument(
        "--top",
        type=positive_int,
        default=10,
        metavar="K",
        help="show the K most alike (default 10)",
    )
    sim.add_argument("--json", action="store_true", help="print the groups as JSON")
    add_model_options(sim, compute=False)
    sim.set_defaults(handler=similar_photos)


def register_tag_commands(tags_sub: Commands) -> None:
    """``tags calibrate`` and ``tags from-examples``, under ``blipdesk tags`` (commands/tags.py)."""
    cal = tags_sub.add_parser("calibrate", help="calibrate a tag from its labels (a proposal)")
    cal.add_argument("tag", metavar="TAG")
    what = cal.add_mutually_exclusive_group()
    what.add_argument("--apply", action="store_true", help="apply the proposal")
    what.add_argument("--reset", action="store_true", help="back to the plain threshold")
    cal.add_argument("--json", action="store_true", help="print the proposal as JSON")
    add_model_options(cal, compute=False)
    cal.set_defaults(handler=calibrate)

    ex = tags_sub.add_parser(
        "from-examples", help="a tag with no sentence, defined by photos that show it (and not)"
    )
    ex.add_argument("tag", metavar="NAME")
    ex.add_argument("photos", nargs="+", metavar="PHOTO", help="photos that show it (yes)")
    ex.add_argument("--no", nargs="+", default=[], metavar="PHOTO", help="photos that do not")
    ex.set_defaults(handler=from_examples)


def _photo_content(name: str) -> tuple[str, str]:
    """(path, content key) of a photo named on the command line: the path as the scan records it
    (``files.absolute``), the key by the scan's rule (``inventory.resolve_contents``)."""
    from blipdesk.core.files import absolute
    from blipdesk.core.inventory import resolve_contents
    from blipdesk.infra.errors import UserError

    if not Path(name).expanduser().is_file():
        raise UserError(f"{name}: not a photo file.")
    got = resolve_contents(None, [name])
    if name in got.failed:
        raise UserError(f"{name}: {got.failed[name]}.")
    return absolute(name), got.found[name]


def label_photos(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.infra.errors import UserError

    photos = [_photo_content(p) for p in ns.photos]
    value = VALUES[ns.value]
    with ctx.library() as lib:
        if lib.tag(ns.tag) is None:
            raise UserError(f"There is no tag called {ns.tag!r}.")
        lib.put_labels(ns.tag, {content: value for _, content in photos})
    word = {True: "yes", False: "no", None: "cleared"}[value]
    print(f"{ns.tag}: {word} on {len(photos)} photo{'s' * (len(photos) != 1)}", file=sys.stderr)
    return 0


def from_examples(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.domain import Tag
    from blipdesk.infra.errors import UserError

    yes = [_photo_content(p)[1] for p in ns.photos]
    no = [_photo_content(p)[1] for p in ns.no]
    with ctx.library() as lib:
        if lib.tag(ns.tag) is not None:
            raise UserError(f"There is already a tag called {ns.tag!r}.")
        lib.put_tag(Tag(ns.tag, (), 0.5), from_examples=True)
        lib.put_labels(ns.tag, {**{c: True for c in yes}, **{c: False for c in no}})
    print(
        f"{ns.tag}: a tag from {len(yes)} yes and {len(no)} no examples; "
        f"'blipdesk tags calibrate {ns.tag} --apply' fits it",
        file=sys.stderr,
    )
    return 0


def _paths_of(lib: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for record in lib.all_photos():  # every drive, not everything under one root
        if record.content:
            out.setdefault(record.content, []).append(record.path)
    return out


def describe(calibration: Any) -> dict[str, Any] | None:
    if calibration is None:
        return None
    return {
        "kind": calibration.kind,
        "slope": calibration.slope,
        "bias": calibration.bias,
        "threshold": calibration.threshold(),
        "image_term": calibration.weights is not None,
    }


def proposal_json(proposal: Any, paths: dict[str, list[str]]) -> dict[str, Any]:
    fit = proposal.fit

    def named(contents: Sequence[str]) -> list[str]:
        return sorted(p for c in contents for p in paths.get(c, [c]))

    return {
        "tag": proposal.tag,
        "labels": {"yes": fit.yes, "no": fit.no},
        "step": fit.step,
        "calibration": describe(fit.calibration),
        "steps": [
            {
                "step": s.step,
                "loo_f1": s.loo_f1,
                "loo_agreement": s.loo_agreement,
                "accepted": s.accepted,
                "estimated_f1": s.estimate,
            }
            for s in fit.steps
        ],
        # the stratified estimate of F1 over the photos (core/calibration.py stratified_f1),
        # today's rule and the proposal's (null: no labels of both kinds); expected_f1 is the
        # proposal's, under its first round's name
        "estimated_f1": {"today": fit.estimate_today, "proposed": fit.estimate},
        "expected_f1": fit.estimate,
        # true with fewer than calibration.ROUGH_BELOW labels of a kind: a rough guide
        "estimate_rough": fit.rough,
        "estimate_caveat": fit.estimate_caveat(),
        "carried_before": proposal.carried_before,
        "carried_after": proposal.carried_after,
        "gained": named(proposal.gained),
        "lost": named(proposal.lost),
    }


def calibrate(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.core.calibration import propose, tag_data
    from blipdesk.infra.errors import UserError

    with ctx.library(readonly=not (ns.apply or ns.reset)) as lib:
        tag = lib.tag(ns.tag)
        if tag is None:
            raise UserError(f"There is no tag called {ns.tag!r}.")
        key, _model = ctx.read_key(lib)
        if ns.reset:
            lib.set_calibration(tag.name, key, None)
            print(f"{tag.name}: back to its threshold {tag.threshold:.2f}", file=sys.stderr)
            return 0
        current = lib.calibrations(key).get(tag.name)
        data = tag_data(lib, key, tag)
        proposal = propose(data, tag, current)
        doc = proposal_json(proposal, _paths_of(lib))
        if ns.apply:
            lib.set_calibration(tag.name, key, proposal.fit.calibration)
    doc["applied"] = bool(ns.apply)
    if ns.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{display_text(tag.name)}: {doc['labels']['yes']} yes, {doc['labels']['no']} no")
    print(f"  {'step':<10} {'LOO F1':>7} {'agreement':>9} {'est. F1':>7}")
    for s in doc["steps"]:
        mark = (
            " <- proposed" if s["step"] == doc["step"] else ("" if s["accepted"] else " (no gain)")
        )
        est = "" if s["estimated_f1"] is None else f"{s['estimated_f1']:.2f}"
        print(f"  {s['step']:<10} {s['loo_f1']:7.2f} {s['loo_agreement']:9.2f} {est:>7}{mark}")
    cal = doc["calibration"]
    if cal is None:
        print(f"  rule: the threshold {tag.threshold:.2f}, as today")
    elif cal["threshold"] is not None and not cal["image_term"]:
        print(f"  rule: {cal['kind']}, the same as a threshold of {cal['threshold']:.3f}")
    else:
        print(
            f"  rule: {cal['kind']} (slope {cal['slope']:.2f}, bias {cal['bias']:.2f}, image term)"
        )
    est = doc["estimated_f1"]
    if est["today"] is not None and est["proposed"] is not None:
        print(
            f"  estimated F1 over the photos: today ~ {est['today']:.2f}, proposed ~ "
            f"{est['proposed']:.2f} ({doc['estimate_caveat']})"
        )
    print(
        f"  carried by {doc['carried_before']} photos now, {doc['carried_after']} after; "
        f"{len(doc['gained'])} gain it, {len(doc['lost'])} lose it"
    )
    for p in doc["gained"][:20]:
        print(f"  + {display_path(p)}")
    for p in doc["lost"][:20]:
        print(f"  - {display_path(p)}")
    print("applied" if ns.apply else "not applied (--apply applies it)", file=sys.stderr)
    return 0


def similar_photos(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.infra.errors import UserError
    from blipdesk.services.near import similar_photos as find

    photos: list[tuple[str, str]] = []
    folders: list[str] = []
    for name in ns.paths:
        path = Path(name).expanduser()
        if path.is_dir():
            folders.append(str(path.resolve()))
        else:
            photos.append(_photo_content(name))
    if not photos:
        raise UserError("Name at least one photo to look for, then the folders to look in.")
    if not folders:
        raise UserError("Name at least one folder to look in, after the photos.")
    with ctx.library(readonly=True) as lib:
        key, _model = ctx.read_key(lib)
        candidates, vectors = lib.folder_features(key, folders)
        chosen = dict(photos)
        vectors.update(lib.image_features(key, [c for c in chosen.values() if c not in vectors]))
    missing = [p for p, c in photos if c not in vectors]
    if missing:
        raise UserError(
            f"{missing[0]}: not scanned yet with this model (blipdesk scan its folder)."
        )
    found = find(ctx.paths.database, chosen, candidates, vectors, ns.top)
    if ns.json:
        doc = {
            "ranked": [{"path": p, "similarity": s} for p, s in found.ranked],
            "exact_duplicates": [{"of": q, "path": p} for q, p in found.exact],
            "near_duplicates": [{"of": q, "path": p, "similarity": s} for q, p, s in found.near],
        }
        print(json.dumps(doc, indent=2))
        return 0
    if found.exact:
        print("exact duplicates (same content):")
        for q, p in found.exact:
            print(f"  {display_path(p)}  (= {display_path(q)})")
    if found.near:
        print("near duplicates:")
        for q, p, s in found.near:
            print(f"  {s:.3f}  {display_path(p)}  (~ {display_path(q)})")
    print("most like them:" if len(photos) > 1 else "most like it:")
    for p, s in found.ranked:
        print(f"  {s:.3f}  {display_path(p)}")
    return 0
