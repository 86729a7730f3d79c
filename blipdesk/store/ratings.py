"""Ratings in the cache: stars, flags and colour labels, kept by content."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from blipdesk.domain.ratings import COLOURS, Rating
from blipdesk.store.connection import Connection, _chunks


class Ratings(Connection):
    """Ratings: stars, flags and colour labels by content."""

    def ratings(self, contents: Sequence[str]) -> dict[str, Rating]:
        """content -> its rating, for the contents that have one."""
        out: dict[str, Rating] = {}
        identity = self._identities(contents)  # kept by the file's identity, not its decoding
        for chunk in _chunks(list(dict.fromkeys(identity.values()))):
            marks = ",".join("?" for _ in chunk)
            rows = self.conn.execute(
                "SELECT c.hash, r.stars, r.flag, r.colour FROM ratings r "
                f"JOIN contents c ON c.id = r.content_id WHERE c.hash IN ({marks})",
                list(chunk),
            )
            out.update(
                (c, Rating(stars, flag, colour if colour in COLOURS else ""))
                for c, stars, flag, colour in rows
            )
        return {c: out[i] for c, i in identity.items() if i in out}

    def set_ratings(self, ratings: Mapping[str, Rating], when: float) -> None:
        """Store these contents' ratings (a 0-star, unflagged, unlabelled rating is
        forgotten)."""
        with self.transaction():
            identity = self._identities(ratings)
            for content, rating in ratings.items():
                cid = self._intern("contents", "hash", identity[content], True)
                if rating == Rating():
                    self.conn.execute("DELETE FROM ratings WHERE content_id=?", (cid,))
                else:
                    self.conn.execute(
                        "INSERT INTO ratings(content_id, stars, flag, colour, updated) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(content_id) DO UPDATE SET "
                        "stars=excluded.stars, flag=excluded.flag, colour=excluded.colour, "
                        "updated=excluded.updated",
                        (cid, rating.stars, rating.flag, rating.colour, when),
                    )
