"""A person's own keywords in the cache, kept by content (issue 26): which photo carries which
keyword, where it came from (typed in blipdesk, or imported from the photo's XMP), and the
suggestions the person rejected. The names are checked by ``domain.keywords`` before they get
here."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from blipdesk.store.connection import Connection, _chunks

TYPED, IMPORTED = "typed", "imported"


class Keywords(Connection):
    """Keywords: the SQL of a person's own vocabulary."""

    def add_keyword(self, name: str, contents: Iterable[str], origin: str = TYPED) -> int:
        """Give these contents the keyword; returns how many did not have it yet. A typed
        keyword replaces an imported one (it then stays when a re-import no longer finds it),
        and takes back a rejection of it."""
        added = 0
        now = time.time()
        with self.transaction():
            kid = self._intern("keywords", "name", name, True)
            for content in dict.fromkeys(contents):
                cid = self._intern("contents", "hash", content, True)
                row = self.conn.execute(
                    "SELECT origin FROM photo_keywords WHERE keyword_id=? AND content_id=?",
                    (kid, cid),
                ).fetchone()
                added += row is None
                if row is None or (origin == TYPED and row[0] != TYPED):
                    self.conn.execute(
                        "INSERT OR REPLACE INTO photo_keywords(content_id, keyword_id, origin, at) "
                        "VALUES (?, ?, ?, ?)",
                        (cid, kid, origin, now),
                    )
                self.conn.execute(
                    "DELETE FROM keyword_rejections WHERE keyword_id=? AND content_id=?",
                    (kid, cid),
                )
        return added

    def remove_keyword(self, name: str, contents: Iterable[str]) -> int:
        """Take the keyword off these contents; returns how many had it. A keyword no photo
        carries any more and no rejection names is forgotten."""
        kid = self._intern("keywords", "name", name, False)
        if kid is None:
            return 0
        removed = 0
        with self.transaction():
            for part in _chunks(list(dict.fromkeys(contents))):
                marks = ",".join("?" * len(part))
                removed += self.conn.execute(
                    "DELETE FROM photo_keywords WHERE keyword_id=? AND content_id IN "
                    f"(SELECT id FROM contents WHERE hash IN ({marks}))",
                    (kid, *part),
                ).rowcount
            self._forget_unused()
        return removed

    def replace_imported(self, found: Mapping[str, Sequence[str]]) -> tuple[int, int]:
        """Each content's imported keywords become exactly ``found[content]`` (what its XMP says
        now); typed ones stay. Returns (keywords added, keywords taken away)."""
        added = dropped = 0
        now = time.time()
        with self.transaction():
            for content, names in found.items():
                cid = self._intern("contents", "hash", content, True)
                before = {
                    name: origin
                    for name, origin in self.conn.execute(
                        "SELECT k.name, p.origin FROM photo_keywords p JOIN keywords k "
                        "ON k.id = p.keyword_id WHERE p.content_id=?",
                        (cid,),
                    )
                }
                wanted = set(names)
                for name, origin in before.items():
                    if origin == IMPORTED and name not in wanted:
                        kid = self._intern("keywords", "name", name, False)
                        self.conn.execute(
                            "DELETE FROM photo_keywords WHERE keyword_id=? AND content_id=?",
                            (kid, cid),
                        )
                        dropped += 1
                for name in dict.fromkeys(names):
                    if name in before:
                        continue
                    kid = self._intern("keywords", "name", name, True)
                    self.conn.execute(
                        "INSERT INTO photo_keywords(content_id, keyword_id, origin, at) "
                        "VALUES (?, ?, ?, ?)",
                        (cid, kid, IMPORTED, now),
                    )
                    added += 1
            self._forget_unused()
        return added, dropped

    def _forget_unused(self) -> None:
        self.conn.execute(
            "DELETE FROM keywords WHERE id NOT IN (SELECT keyword_id FROM photo_keywords) "
            "AND id NOT IN (SELECT keyword_id FROM keyword_rejections)"
        )
        self._ids = {k: v for k, v in self._ids.items() if k[0] != "keywords"}

    def keyword_counts(self) -> dict[str, int]:
        """Every keyword some photo content carries -> how many contents carry it, by name."""
        return {
            name: int(count)
            for name, count in self.conn.execute(
                "SELECT k.name, COUNT(p.content_id) FROM keywords k JOIN photo_keywords p "
                "ON p.keyword_id = k.id GROUP BY k.id ORDER BY k.name"
            )
        }

    def photo_keywords(self, contents: Sequence[str] | None = None) -> dict[str, set[str]]:
        """content -> its keywords, for ``contents`` (every keyworded content when None)."""
        query = (
            "SELECT c.hash, k.name FROM photo_keywords p JOIN keywords k ON k.id = p.keyword_id "
            "JOIN contents c ON c.id = p.content_id"
        )
        out: dict[str, set[str]] = {}
        if contents is None:
            for content, name in self.conn.execute(query):
                out.setdefault(content, set()).add(name)
            return out
        for part in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" * len(part))
            for content, name in self.conn.execute(f"{query} WHERE c.hash IN ({marks})", part):
                out.setdefault(content, set()).add(name)
        return out

    def reject_keyword(self, name: str, contents: Iterable[str]) -> None:
        """Remember that these contents do not carry the keyword (a suggestion said no to)."""
        now = time.time()
        with self.transaction():
            kid = self._intern("keywords", "name", name, True)
            for content in dict.fromkeys(contents):
                cid = self._intern("contents", "hash", content, True)
                self.conn.execute(
                    "INSERT OR REPLACE INTO keyword_rejections(content_id, keyword_id, at) "
                    "VALUES (?, ?, ?)",
                    (cid, kid, now),
                )

    def keyword_rejections(self) -> dict[str, set[str]]:
        """keyword -> the contents a suggestion of it was rejected on."""
        out: dict[str, set[str]] = {}
        for name, content in self.conn.execute(
            "SELECT k.name, c.hash FROM keyword_rejections r JOIN keywords k "
            "ON k.id = r.keyword_id JOIN contents c ON c.id = r.content_id"
        ):
            out.setdefault(name, set()).add(content)
        return out
