"""``blipdesk tags add|list|remove|calibrate|from-examples``: the tags, each a name, sentences and
a threshold (``calibrate`` and ``from-examples`` teach one: commands/teach.py)."""

from __future__ import annotations

import argparse
import json
import sys

from blipdesk.cli.args import Commands, add_command, probability, subcommands
from blipdesk.cli.commands import teach
from blipdesk.cli.context import EXIT_OK, Context, command, warn_long_sentences
from blipdesk.infra.display import display_text
from blipdesk.infra.errors import UserError


def register(commands: Commands) -> None:
    tags = add_command(commands, "tags", "add, list or remove tags")
    tags_sub = subcommands(tags, "tags_command", required=True)
    add = add_command(tags_sub, "add", "add a tag (or replace its sentences and threshold)")
    add.add_argument("name", metavar="NAME", help="the tag's name (also its sentence by default)")
    add.add_argument("sentences", nargs="*", metavar="SENTENCE", help="default: NAME itself")
    add.add_argument(
        "--threshold",
        type=probability,
        metavar="P",
        help="match probability (0 to 1) from which a photo carries the tag (default 0.5)",
    )
    add.set_defaults(handler=add_tag)
    lst = add_command(tags_sub, "list", "list the tags")
    lst.add_argument("--json", action="store_true", help="print the tags as a JSON list")
    lst.set_defaults(handler=list_tags)
    rm = add_command(tags_sub, "remove", "remove a tag (its cached scores stay)")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=remove_tag)
    teach.register_tag_commands(tags_sub)


def add_tag(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.domain import DEFAULT_THRESHOLD, Tag, tag_sentences

    with ctx.library() as library:
        old = library.tag(ns.name)
        threshold = ns.threshold
        if threshold is None:
            threshold = old.threshold if old else DEFAULT_THRESHOLD
        sentences = tag_sentences(ns.name, ns.sentences or [])  # none: the name
        tag = Tag(ns.name, sentences, threshold, old.colour if old else None)
        library.put_tag(tag)
    verb = "updated" if old else "added"
    print(f"{verb} tag {tag.name!r}: {len(tag.sentences)} sentence(s), threshold {threshold:g}")
    warn_long_sentences(ctx, tag.sentences)
    return EXIT_OK


def list_tags(ns: argparse.Namespace, ctx: Context) -> int:
    from blipdesk.services.export import tag_json
    from blipdesk.services.options import read_key
    from blipdesk.services.wording import calibrated_note, calibration_json

    with ctx.library(readonly=True) as library:
        tags = library.tags()
        # A calibrated tag's threshold is not what tags it: said, with what is (the key the
        # configured model's scans write; never loading or fetching the model).
        key = read_key(library, ctx.model()) if tags else None
        cals = library.calibrations(key) if key is not None else {}
    if ns.json:
        doc = [{**tag_json(t), "calibration": calibration_json(cals.get(t.name))} for t in tags]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not tags:
        print(
            f"blipdesk: no tags yet; add one with: {command(ns, 'tags', 'add', 'NAME')} "
            "[SENTENCE ...] (a tag is a sentence, like 'a dog on a beach')",
            file=sys.stderr,
        )
    for tag in tags:
        # names and sentences may come from a results file or an older cache: escaped
        sentences = " | ".join(display_text(s) for s in tag.sentences)
        cal = cals.get(tag.name)
        rule = f"{tag.threshold:g}" + (f" ({calibrated_note(cal, tag.threshold)})" if cal else "")
        print(f"{display_text(tag.name)}\t{rule}\t{sentences}")
    return EXIT_OK


def remove_tag(ns: argparse.Namespace, ctx: Context) -> int:
    with ctx.library() as library:
        if not library.remove_tag(ns.name):
            raise UserError(f"There is no tag called {ns.name!r}.")
    print(f"removed tag {ns.name!r}")
    return EXIT_OK
