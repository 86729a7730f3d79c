"""``blipdesk keywords add|remove|list|import|suggest``: a person's own keywords (issue 26).

    blipdesk keywords add KEYWORD PHOTO...         (hierarchical: Places|Portugal|Lisbon)
    blipdesk keywords remove KEYWORD PHOTO...
    blipdesk keywords list [--json]                (each keyword with its photo count)
    blipdesk keywords import FOLDER...             (from XMP sidecars and the photos themselves)
    blipdesk keywords suggest FOLDER... [--keyword K] [--min-precision P] [--json]

Keywords are kept by the photos' content (a rename or a move keeps them). ``suggest`` learns each
keyword with enough photos (services/keywords.py); its words are scored against the vision cache
(the text side only: never a vision pass, a photo without cached vision output is not scored).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from blipdesk.cli.args import Commands, add_command, add_model_options, probability, subcommands
from blipdesk.cli.context import EXIT_ERROR, EXIT_OK, Context, existing_folders
from blipdesk.infra.display import display_path


def register(commands: Commands) -> None:
    keywords = add_command(commands, "keywords", "your own keywords: add, list, import, suggest")
    sub = subcommands(keywords, "keywords_command", required=True)
    add = add_command(sub, "add", "give photos a keyword (levels separated by |)")
    add.add_argument("keyword", metavar="KEYWORD")
    add.add_argument("photos", nargs="+", metavar="PHOTO")
    add.set_defaults(handler=add_keyword)
    rm = add_command(sub, "remove", "take a keyword off photos")
    rm.add_argument("keyword", metavar="KEYWORD")
    rm.add_argument("photos", nargs="+", metavar="PHOTO")
    rm.set_defaults(handler=remove_keyword)
    lst = add_command(sub, "list", "list the keywords, each with its photo count")
    lst.add_argument("--json", action="store_true", help="print them as JSON")
    lst.set_defaults(handler=list_keywords)
    imp = add_command(
        sub, "import", "read the photos' keywords from their XMP sidecars and embedded metadata"
    )
    imp.add_argument("folders", nargs="+", metavar="FOLDER")
    imp.add_argument("--no-recursive", action="store_true", help="do not look into subfolders")
    imp.set_defaults(handler=import_keywords)
    sug = add_command(sub, "suggest", "the keywords photos probably carry and don't yet")
    sug.add_argument("folders", nargs="+", metavar="FOLDER")
    sug.add_argument("--keyword", metavar="K", help="only this keyword")
    sug.add_argument(
        "--min-precision",
        type=probability,
        default=0.9,
        metavar="P",
        help="only keywords whose estimated precision is at least P (default 0.9)",
    )
    sug.add_argument("--json", action="store_true", help="print keywords and suggestions as JSON")
    add_model_options(sug, compute=True)
    sug.set_defaults(handler=suggest)
    app = add_command(
        sub,
        "apply",
        "accept a keyword's suggestions: add it to those photos and write it into their sidecars",
    )
    app.add_argument("folders", nargs="+", metavar="FOLDER")
    app.add_argument("--keyword", required=True, metavar="K", help="the keyword to apply")
    app.add_argument(
        "--min-precision",
        type=probability,
        default=0.9,
        metavar="P",
        help="only when its estimated precision is at least P (default 0.9)",
    )
    app.add_argument(
        "--naming",
        choices=("jpg.xmp", "xmp"),
        default="jpg.xmp",
        help="photo.jpg.xmp (darktable, digiKam; default) or photo.xmp (Lightroom, raw files)",
    )
    app.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    add_model_options(app, compute=True)
    app.set_defaults(handler=apply_keyword)


def _contents(names: list[str]) -> list[str]:
    from blipdesk.cli.commands.teach import _photo_content

    return [_photo_content(name)[1] for name in names]


def add_keyword(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.services.keywords import checked

    name = checked(ns.keyword)
    contents = _contents(ns.photos)
    with ctx.library() as library:
        added = library.add_keyword(name, contents)
    print(f"{name}: added to {added} photo{'s' * (added != 1)}", file=sys.stderr)
    return EXIT_OK


def remove_keyword(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.services.keywords import checked

    name = checked(ns.keyword)
    contents = _contents(ns.photos)
    with ctx.library() as library:
        removed = library.remove_keyword(name, contents)
    print(f"{name}: taken off {removed} photo{'s' * (removed != 1)}", file=sys.stderr)
    return EXIT_OK


def list_keywords(ns: argparse.Namespace, ctx: Context) -> int:
    with ctx.library(readonly=True) as library:
        counts = library.keyword_counts()
    if ns.json:
        doc = [{"keyword": k, "photos": n} for k, n in counts.items()]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not counts:
        print("blipdesk: no keywords yet (keywords add, or keywords import)", file=sys.stderr)
    for name, count in counts.items():
        print(f"{count}\t{name}")
    return EXIT_OK


def import_keywords(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.core.files import PhotoFailure
    from blipdesk.core.inventory import refresh_photos
    from blipdesk.services.keywords import import_keywords as read_into

    folders = existing_folders(ns.folders)
    unreadable: list[PhotoFailure] = []
    with ctx.library() as library:
        records = refresh_photos(library, folders, not ns.no_recursive, unreadable)
        photos = [(r.path, r.content) for r in records if r.content]
        report = read_into(library, photos)
    for failure in unreadable:
        print(f"blipdesk: unreadable folder: {display_path(failure.path)}", file=sys.stderr)
    for problem in report.problems:
        print(f"blipdesk: {problem}", file=sys.stderr)
    print(
        f"keywords import: {report.photos} photos read, {report.keyworded} with keywords, "
        f"{report.keywords} distinct keywords ({report.added} new on photos, "
        f"{report.dropped} gone since)",
        file=sys.stderr,
    )
    return EXIT_ERROR if report.problems or unreadable else EXIT_OK


def _scan_folders(folders: list[str], keyworded: list[str]) -> list[str]:
    """The folders to score the keywords' words in: those asked for and those holding
    keyworded photos (learning reads them), none inside another."""
    wanted = sorted({*folders, *(os.path.dirname(p) for p in keyworded)})
    out: list[str] = []
    for folder in wanted:
        if not any(folder == o or folder.startswith(o.rstrip(os.sep) + os.sep) for o in out):
            out.append(folder)
    return out


def _suggestions(ns: argparse.Namespace, ctx: Context, library: Any) -> tuple[list[Any], list[Any]]:
    """Learn (scoring the keywords' words from the vision cache first) and suggest."""
    from dataclasses import replace

    from blipdesk.core.engine import scan
    from blipdesk.core.keywords import MIN_EXAMPLES
    from blipdesk.infra.errors import UserError
    from blipdesk.services import keywords as kw

    folders = existing_folders(ns.folders)
    names = kw.learnable(library)
    if ns.keyword is not None:
        wanted = kw.checked(ns.keyword)
        if wanted not in names:
            raise UserError(
                f"The keyword {wanted!r} is not on {MIN_EXAMPLES} photos yet: "
                "nothing to learn it from."
            )
        names = [wanted]
    key = ctx.write_key()
    keyworded = set(library.photo_keywords())
    paths_of_keyworded = [
        r.path for r in library.photos_under([os.path.abspath(os.sep)]) if r.content in keyworded
    ]
    options = replace(ctx.options(), cached_only=True)  # the text side only: no vision pass
    if names:
        where = _scan_folders(folders, paths_of_keyworded)
        scan(library, where, kw.sentences(names), key, ctx.scorer(), options)
    recursive = not getattr(ns, "no_recursive", False)
    paths = {r.path: r.content for r in library.photos_under(folders, recursive) if r.content}
    return kw.suggest(library, key.score_key, paths, names, ns.min_precision)


def suggest(ns: argparse.Namespace, ctx: Context) -> int:
    with ctx.library() as library:
        learnt, suggestions = _suggestions(ns, ctx, library)
    doc: dict[str, Any] = {
        "keywords": [
            {
                "keyword": m.keyword,
                "examples": m.examples,
                "estimated_precision": m.estimated_precision,
                "estimated_recall": m.estimated_recall,
                "estimate_rough": m.rough,
            }
            for m in learnt
        ],
        "suggestions": [
            {"path": s.path, "keyword": s.keyword, "probability": round(s.probability, 4)}
            for s in suggestions
        ],
    }
    if ns.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_OK
    for m in learnt:
        est = (
            "too few examples"
            if m.calibration is None
            else f"precision ~{_pct(m.estimated_precision)}, recall ~{_pct(m.estimated_recall)}"
            + (" (rough: few photos)" if m.rough else "")
        )
        print(f"{m.keyword}: {m.examples} examples; {est}", file=sys.stderr)
    for s in suggestions:
        print(f"{display_path(s.path)}\t{s.keyword}\t{s.probability:.2f}")
    return EXIT_OK


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def apply_keyword(ns: argparse.Namespace, ctx: Context) -> int:
    """Photos suggested for the keyword get it (in the library, typed: it stays) and in their
    sidecars; photos themselves are never written. A sidecar that cannot be written is listed
    and the rest are done (exit 1)."""
    from blipdesk.services.keywords import plan_accepted
    from blipdesk.services.sidecars import apply_plans, describe

    with ctx.library() as library:
        learnt, suggestions = _suggestions(ns, ctx, library)
        plans = plan_accepted(suggestions, ns.naming)
        run = apply_plans(plans, dry_run=ns.dry_run)
        written = {p for plan in run.changed + run.unchanged for p in map(str, plan.photos)}
        accepted = [s for s in suggestions if s.path in written]
        if not ns.dry_run:
            content = {s.path: s.content for s in suggestions}
            library.add_keyword(learnt[0].keyword, [content[s.path] for s in accepted])
    for plan in run.changed:
        print(("would write " if ns.dry_run else "") + describe(plan))
    for error in run.failed:
        print(f"blipdesk: {error}", file=sys.stderr)
    model = learnt[0]
    print(
        f"{model.keyword}: {len(accepted)} photo{'s' * (len(accepted) != 1)} "
        f"{'would be ' if ns.dry_run else ''}keyworded (estimated precision "
        f"{_pct(model.estimated_precision)}); {len(run.changed)} sidecar"
        f"{'s' * (len(run.changed) != 1)} {'to write' if ns.dry_run else 'written'}",
        file=sys.stderr,
    )
    return EXIT_ERROR if run.failed else EXIT_OK
