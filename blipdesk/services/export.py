"""The export format: the JSON document and the CSV table of tags and scores, and their writer.

Both shells call this module (the CLI's ``export`` command, the window's File > Export), so the two
cannot drift apart. Qt-free and torch-free.

File names that are not UTF-8 hold lone surrogates (``os.fsdecode``). In JSON they are written as
escapes (``"\\udcff"``): the document stays valid UTF-8 and ``json.loads`` gives back the str that
``os.fsencode`` turns into the real name. In CSV they are written as the names' own bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from blipdesk.infra.display import display_path
from blipdesk.infra.errors import UserError

if TYPE_CHECKING:
    from blipdesk.domain import Tag
    from blipdesk.services.options import ModelChoice
    from blipdesk.store import Library

FORMATS = ("json", "csv")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class ExportSummary:
    target: str
    photos: int
    fmt: str


def tag_json(tag: Tag) -> dict[str, Any]:
    return {"name": tag.name, "sentences": list(tag.sentences), "threshold": tag.threshold}


def export_document(
    library: Library,
    score_key: str,
    model: str,
    folders: Iterable[str | os.PathLike[str]],
    recursive: bool = True,
) -> dict[str, Any]:
    """The export JSON document (see the README's format)."""
    tags = library.tags()
    photos: list[dict[str, Any]] = []
    for result in library.photo_results(score_key, folders, recursive, tags):
        photo_tags = {
            name: {
                "score": ts.score,
                "match": ts.match,
                # a person's yes / no (the match follows it), null when the model decided
                "label": None if ts.label is None else ("yes" if ts.label else "no"),
                "calibrated": ts.logodds is not None,
                # what computed each score (null: not known, e.g. scored before blipdesk kept it)
                "sentences": {
                    s: {
                        "itm": v.itm,
                        "cosine": v.cosine,
                        "precision": v.precision,
                        "vision_cache": v.vision_cache,
                    }
                    for s, v in ts.sentences.items()
                },
            }
            for name, ts in result.tags.items()
        }
        photos.append({"path": result.path, "error": result.error, "tags": photo_tags})
    return {"model": model, "tags": [tag_json(t) for t in tags], "photos": photos}


def export_csv(doc: dict[str, Any]) -> str:
    """One row per (photo, tag sentence): path, tag, sentence, itm, cosine, match, label,
    precision, vision_cache. A sentence's match is its ITM against the threshold, unless the tag
    is calibrated or labelled on the photo: then it is the tag's match (the label: yes / no;
    empty when none). What computed the score: the model's precision and whether the vision
    output came from the vision cache (both empty when not known)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["path", "tag", "sentence", "itm", "cosine", "match", "label", "precision", "vision_cache"]
    )
    for photo in doc["photos"]:
        for name, tag in photo["tags"].items():
            label = tag.get("label")
            # a tag from examples alone has no sentence: one row with its score
            rows = tag["sentences"].items() or [("", {"itm": tag["score"], "cosine": ""})]
            for sentence, s in rows:
                if label is not None or tag.get("calibrated"):
                    match = bool(tag["match"])
                else:
                    threshold = next(t["threshold"] for t in doc["tags"] if t["name"] == name)
                    match = s["itm"] >= threshold
                writer.writerow(
                    [
                        photo["path"],
                        name,
                        sentence,
                        s["itm"],
                        s["cosine"],
                        str(match).lower(),
                        label or "",
                        s.get("precision") or "",
                        "" if s.get("vision_cache") is None else str(s["vision_cache"]).lower(),
                    ]
                )
    return out.getvalue()


def export_bytes(doc: dict[str, Any], fmt: str) -> bytes:
    """The document as the bytes of a file in ``fmt`` ("json" or "csv")."""
    if fmt == "json":
        text = _SURROGATE.sub(
            lambda m: f"\\u{ord(m.group()):04x}", json.dumps(doc, indent=2, ensure_ascii=False)
        )
        return (text + "\n").encode("utf-8")
    return export_csv(doc).encode("utf-8", "surrogateescape")


def write_export(
    doc: dict[str, Any],
    fmt: str,
    target: str | os.PathLike[str],
    protect: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Write the document to ``target`` atomically (``blipdesk.infra.atomic.write_atomic``)."""
    from blipdesk.infra.atomic import write_atomic

    try:
        write_atomic(target, export_bytes(doc, fmt), protect=protect)
    except OSError as exc:
        raise UserError(f"Cannot write {display_path(target)}: {exc.strerror or exc}") from None


def export_photos(
    database: str,
    model_choice: ModelChoice,
    folder: str,
    recursive: bool,
    paths: Iterable[str],
    fmt: str,
    target: str,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> ExportSummary:
    """Export ``paths`` under ``folder`` (the window's selection) from the cache, under the score
    key that scans with ``model_choice`` write (what the grid shows: ``options.read_key``)."""
    from pathlib import Path

    from blipdesk.core.model import source_key
    from blipdesk.services.options import read_key
    from blipdesk.store import Library

    if not Path(database).is_file():
        raise UserError("Nothing is scored yet: scan the folder first.")
    model = source_key(model_choice.source)
    with Library.open(database, readonly=True) as lib:
        key = read_key(lib, model_choice)
        if key is None:
            raise UserError("Nothing is scored yet with this model: scan the folder first.")
        doc = export_document(lib, key, model, [folder], recursive)
    wanted = set(paths)
    doc["photos"] = [p for p in doc["photos"] if p["path"] in wanted]
    write_export(doc, fmt, target, protect)
    return ExportSummary(target, len(doc["photos"]), fmt)
