"""``blipdesk search SENTENCE FOLDER...``: rank the photos under folders for a sentence, by
cosine at once, then the best refined by ITM. Never scans."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from blipdesk.cli.args import Commands, add_command, add_model_options, positive_int, sentence
from blipdesk.cli.context import EXIT_OK, Context, StopOnCtrlC, existing_folders, scan_command
from blipdesk.infra.display import display_path
from blipdesk.services.photo_filter import WORDS_HELP

if TYPE_CHECKING:
    from blipdesk.core.search import SearchHit, SearchUpdate


def register(commands: Commands) -> None:
    search = add_command(commands, "search", "rank the photos under folders for a sentence")
    search.add_argument("sentence", type=sentence, metavar="SENTENCE")
    search.add_argument("folders", nargs="+", metavar="FOLDER")
    search.add_argument(
        "--top", type=positive_int, default=10, metavar="K", help="show the K best (default 10)"
    )
    search.add_argument(
        "--candidates", type=positive_int, metavar="N", help="ITM-rerank the N best by cosine"
    )
    search.add_argument(
        "--json", action="store_true", help="print the refined ranking as JSON (nothing else)"
    )
    search.add_argument(
        "--filter", metavar="FILTER",
        help="rank only the photos this filter keeps, as the window's filter bar would: "
        f"{WORDS_HELP}; view:NAME starts from a smart view saved in the window",
    )  # fmt: skip
    add_model_options(search, compute=True)
    search.set_defaults(handler=run)


def run(ns: argparse.Namespace, ctx: Context) -> int:
    """Prints the cosine ranking at once on a terminal, then the ITM-refined one at the end
    (``--json``: only the refined one). Never scans: photos not scanned yet are counted."""
    from blipdesk.core.search import search
    from blipdesk.services.library_filter import matching_paths
    from blipdesk.services.smart_views import FILE_NAME, filter_option

    folders = existing_folders(ns.folders)
    wanted = filter_option(ns.filter, ctx.paths.data_dir / FILE_NAME) if ns.filter else None
    key = ctx.write_key()
    tty = sys.stdout is not None and sys.stdout.isatty() and not ns.json
    shown = [False]

    def on_update(update: SearchUpdate) -> None:
        if tty and not shown[0] and not update.done:
            shown[0] = True
            print(f"by similarity (cosine), refining the best {update.candidates} by match:")
            print_hits(update.hits)
            print(flush=True)

    from blipdesk.store.schema import read_only_place

    # On a read-only data folder, search still answers from the cache (nothing is stored).
    readonly = read_only_place(ctx.paths.database)
    stop = StopOnCtrlC("the current step")
    with ctx.library(readonly=readonly) as library, stop as cancel:
        if not readonly:
            ctx.remember_feature_budget()
        options = ctx.options()
        only = None
        if wanted is not None:  # the one filter, over the library (services.library_filter)
            only = matching_paths(library, key.score_key, folders, options.recursive, wanted)
        final = search(
            library, folders, ns.sentence, key, ctx.scorer(), ns.top, ns.candidates,
            options, on_update, cancel, only=only,
        )  # fmt: skip
    if final.unscanned:
        print(
            f"blipdesk: {final.unscanned} photo(s) under {', '.join(map(display_path, folders))} "
            f"are not scanned yet and were not searched; to include them: "
            f"{scan_command(ns, folders)}",
            file=sys.stderr,
        )
    if cancel.is_set():
        return stop.exit_code()
    if ns.json:
        results = [{"path": h.path, "itm": h.itm, "cosine": h.cosine} for h in final.hits]
        doc = {
            "model": key.source,
            "sentence": ns.sentence,
            "results": results,
            "ranked": final.ranked,
            "unscanned": final.unscanned,
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        if shown[0]:
            print(f"refined: {final.refined} best checked by match (ITM), best first:")
        print_hits(final.hits)
    return EXIT_OK


def print_hits(hits: Iterable[SearchHit]) -> None:
    print("rank\titm\tcosine\tpath")
    for rank, h in enumerate(hits, 1):
        itm = "-" if h.itm is None else f"{h.itm:.4f}"
        print(f"{rank}\t{itm}\t{h.cosine:.4f}\t{display_path(h.path)}")
