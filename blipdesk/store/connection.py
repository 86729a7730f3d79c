"""The cache's connection and what every part of it shares: transactions, interned ids, the
chunking of long IN (...) lists and how paths are bound. ``Library`` (``store.library``) composes
the parts; each part (scores, labels, ratings, the vision cache) is one job's SQL."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self, TypeVar

from blipdesk.infra.errors import UserError
from blipdesk.store.write_lock import Waiting, begin_write, forget_writer

_T = TypeVar("_T")
_CHUNK = 500  # host parameters per IN (...) list, well under SQLite's limit


def folder_range(folder: str | os.PathLike[str]) -> tuple[str, str]:
    """The [low, high) range of path strings strictly under ``folder``: an index range scan."""
    prefix = str(folder).rstrip(os.sep) + os.sep
    return prefix, prefix[:-1] + chr(ord(os.sep) + 1)


def _db_path(path: str) -> str | bytes:
    """A path as SQL binds it. Linux file names are bytes; Python spells the ones that are not
    UTF-8 with lone surrogates (``os.fsdecode``), which sqlite3 refuses to encode. Those go in as
    their real bytes, cast to TEXT in the statement (``CAST(? AS TEXT)``), and come back as the
    same str through the connection's surrogate-escaping text factory (``schema._open``)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape")
    return path


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Connection:
    """One sqlite3 connection to the cache. See ``store.library`` for the threading rule."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._ids: dict[tuple[str, str], int] = {}
        self.waiting = Waiting()  # how a write waits for another process (``store.write_lock``)
        self._wrote = False

    def close(self) -> None:
        self.conn.close()
        if self._wrote:
            forget_writer(self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it lands, or none of it. It waits
        for another process's write as long as it takes (``store.write_lock``); keep it short, as
        others wait for it the same way."""
        if self.readonly:
            raise RuntimeError("this Library was opened read-only")
        begin_write(self.conn, self.path, self.waiting)
        self._wrote = True
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._ids.clear()  # ids interned in the rolled-back transaction no longer exist
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------------------------- identity

    def _identities(self, contents: Iterable[str]) -> dict[str, str]:
        """image key -> the content identity a photo record ties it to (labels and ratings are
        kept by identity); a key no record names is its own identity."""
        wanted = list(dict.fromkeys(contents))
        out = {c: c for c in wanted}
        for part in _chunks(wanted):
            marks = ",".join("?" * len(part))
            out.update(
                self.conn.execute(
                    "SELECT DISTINCT c.hash, i.hash FROM photos p JOIN contents c "
                    "ON c.id = p.content_id JOIN contents i ON i.id = p.identity_id "
                    f"WHERE c.hash IN ({marks})",
                    tuple(part),
                )
            )
        return out

    def _keys_of(self, identities: Iterable[str]) -> dict[str, list[str]]:
        """identity -> itself and every image key a photo record ties to it."""
        wanted = list(dict.fromkeys(identities))
        out = {i: [i] for i in wanted}
        for part in _chunks(wanted):
            marks = ",".join("?" * len(part))
            for identity, key in self.conn.execute(
                "SELECT DISTINCT i.hash, c.hash FROM photos p JOIN contents c "
                "ON c.id = p.content_id JOIN contents i ON i.id = p.identity_id "
                f"WHERE i.hash IN ({marks}) AND p.identity_id != p.content_id",
                tuple(part),
            ):
                out[identity].append(key)
        return out

    # ------------------------------------------------------------------------------- interning

    def _intern(self, table: str, column: str, value: str, create: bool) -> int | None:
        """The id of ``value`` in ``table``, created when missing (``create``, inside the caller's
        transaction). Get-or-create is one INSERT ... ON CONFLICT DO NOTHING and then a SELECT, so
        another process creating the same row at the same moment is never an error."""
        cached = self._ids.get((table, value))
        if cached is not None:
            return cached
        select = f"SELECT id FROM {table} WHERE {column}=?"
        row = self.conn.execute(select, (value,)).fetchone()
        if row is None:
            if not create:
                return None
            self.conn.execute(
                f"INSERT INTO {table}({column}) VALUES (?) ON CONFLICT({column}) DO NOTHING",
                (value,),
            )
            row = self.conn.execute(select, (value,)).fetchone()
        self._ids[(table, value)] = int(row[0])
        return int(row[0])

    def _text_ids(self, texts: Iterable[str], create: bool = False) -> dict[str, int]:
        ids = {t: self._intern("texts", "text", t, create) for t in dict.fromkeys(texts)}
        return {t: i for t, i in ids.items() if i is not None}

    def model_id(self, score_key: str) -> int | None:
        row = self.conn.execute("SELECT id FROM models WHERE score_key=?", (score_key,)).fetchone()
        return None if row is None else int(row[0])

    def _tag_id(self, name: str) -> int:
        row = self.conn.execute("SELECT id FROM tags WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UserError(f"There is no tag called {name!r}.")
        return int(row[0])
