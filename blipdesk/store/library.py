"""The library cache: tags, models, photos, and the whole that views read. Every SQL statement of
blipdesk lives in this package (``store``); the values and rules it stores and applies live in
``blipdesk.domain``.

Threads: a ``Library`` wraps one sqlite3 connection, usable only from the thread that opened it
(sqlite3's ``check_same_thread``). The scan thread opens the one writer
(``Library.open(path)``); the GUI and other readers open their own (``readonly=True``). WAL lets
readers and the writer run side by side; keep read calls short so checkpoints can run.

Scores are derived data. A tag's score is the best ITM probability over its sentences and a photo
carries the tag when that score reaches the tag's threshold: both are computed at read time
(``domain.tagging``), so moving a threshold re-tags at once and never needs the model.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path

import numpy as np

from blipdesk.domain.names import sidecar_clash, xmp_text_problem
from blipdesk.domain.photos import PhotoRecord, PhotoResult
from blipdesk.domain.scores import ScoreRow
from blipdesk.domain.tagging import derive_tags
from blipdesk.domain.tags import Tag
from blipdesk.infra.errors import UserError
from blipdesk.store.connection import _chunks, _db_path, folder_range
from blipdesk.store.keywords import Keywords
from blipdesk.store.labels import Labels
from blipdesk.store.pixel_hashes import PixelHashes
from blipdesk.store.ratings import Ratings
from blipdesk.store.schema import connect
from blipdesk.store.scores import Scores
from blipdesk.store.vision_cache import VisionCache


def database_bytes(path: str | os.PathLike[str]) -> int:
    """The cache's size on disk: the database file and its ``-wal`` and ``-shm`` companions
    (after a busy scan the WAL can be as large as the file itself)."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with suppress(OSError):
            total += os.stat(f"{os.fspath(path)}{suffix}").st_size
    return total


def _other(identity: str | None, content: str | None) -> str | None:
    """A record's identity where it is not its image key (``PhotoRecord.identity``)."""
    return None if identity == content else identity


class Library(Scores, Labels, Ratings, Keywords, VisionCache, PixelHashes):
    """A connection to the cache. See the module docstring for the threading rule; each base
    class holds one job's SQL (``store.scores``, ``store.labels``, ``store.ratings``,
    ``store.keywords``, ``store.vision_cache``, ``store.pixel_hashes``) over the shared connection (``store.connection``)."""

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> Library:
        path = Path(path)
        return cls(connect(path, readonly=readonly), path, readonly)

    def clear_scores(self) -> None:
        """Forget every score, image feature and per-photo decode error, then shrink the file.

        These are derived data: the next scan recomputes them. Tags, thresholds, colours, photo
        records, and the interned contents, texts and models stay, so ids another connection
        holds in its ``_ids`` cache (the scan's writer between jobs) keep pointing at real rows.
        The deletes are one transaction; the checkpoint and VACUUM that follow hand the freed
        pages back to the file system (VACUUM in WAL mode writes through the WAL, hence the
        checkpoint after it too). Run it off the GUI thread: VACUUM rewrites the whole file."""
        with self.transaction():
            for table in ("scores", "image_features", "decode_errors"):
                self.conn.execute(f"DELETE FROM {table}")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.execute("VACUUM")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # ------------------------------------------------------------------------------- tags

    def tags(self) -> list[Tag]:
        rows = self.conn.execute("SELECT id, name, threshold, colour FROM tags ORDER BY name")
        tags = rows.fetchall()
        sentences: dict[int, list[str]] = {tid: [] for tid, *_ in tags}
        for tid, text in self.conn.execute(
            "SELECT tag_id, text FROM tag_sentences ORDER BY tag_id, position"
        ):
            sentences[tid].append(text)
        return [Tag(name, tuple(sentences[tid]), thr, col) for tid, name, thr, col in tags]

    def tag(self, name: str) -> Tag | None:
        return next((t for t in self.tags() if t.name == name), None)

    def all_sentences(self) -> tuple[str, ...]:
        """Every distinct sentence of every tag, in a stable order."""
        return tuple(dict.fromkeys(s for t in self.tags() for s in t.sentences))

    def put_tag(self, tag: Tag, from_examples: bool = False) -> None:
        """Create the tag, or replace its sentences, threshold and colour. ``from_examples``: a
        tag with no sentence at all, defined by its labels (issue 13)."""
        if not tag.name.strip():
            raise UserError("A tag needs a name.")
        # Tag names travel to XMP sidecars: one rule says what can (sidecars.xmp_text_problem).
        bad = xmp_text_problem(tag.name)
        if bad:
            raise UserError(
                f"A tag name cannot hold {bad}: XMP sidecars cannot carry that character "
                f"({tag.name!r})."
            )
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in tag.name):
            raise UserError(
                f"A tag name cannot hold control characters (tabs, line breaks) or bytes that are "
                f"not text: {tag.name!r}."
            )
        clash = sidecar_clash(tag.name, (t.name for t in self.tags()))
        if clash is not None:
            raise UserError(
                f"The tag {tag.name!r} would be written into sidecars exactly like the tag "
                f"{clash!r} (XMP keyword hierarchies turn '|' into '¦' and '/' into '∕'); "
                "choose another name."
            )
        if not tag.sentences and not from_examples:
            # a tag from examples keeps having none (its threshold moved, its colour changed)
            known = self.tag(tag.name)
            from_examples = known is not None and not known.sentences
        if (not tag.sentences and not from_examples) or not all(s.strip() for s in tag.sentences):
            raise UserError(f"The tag {tag.name!r} needs at least one non-empty sentence.")
        for s in tag.sentences:
            if any(unicodedata.category(c) == "Cs" or c == "\0" for c in s):
                raise UserError(f"A sentence cannot hold bytes that are not text: {s!r}.")
        if not 0.0 <= tag.threshold <= 1.0:
            raise UserError(f"A threshold is a probability between 0 and 1, not {tag.threshold}.")
        with self.transaction():
            self.conn.execute(
                "INSERT INTO tags(name, threshold, colour) VALUES (?, ?, ?) ON CONFLICT(name) "
                "DO UPDATE SET threshold=excluded.threshold, colour=excluded.colour",
                (tag.name, tag.threshold, tag.colour),
            )
            (tid,) = self.conn.execute("SELECT id FROM tags WHERE name=?", (tag.name,)).fetchone()
            self.conn.execute("DELETE FROM tag_sentences WHERE tag_id=?", (tid,))
            self.conn.executemany(
                "INSERT INTO tag_sentences(tag_id, position, text) VALUES (?, ?, ?)",
                [(tid, i, s) for i, s in enumerate(dict.fromkeys(tag.sentences))],
            )

    def set_threshold(self, name: str, threshold: float) -> None:
        """One UPDATE: a tag removed meanwhile by another process is not brought back."""
        if not 0.0 <= threshold <= 1.0:
            raise UserError(f"A threshold is a probability between 0 and 1, not {threshold}.")
        with self.transaction():
            cur = self.conn.execute("UPDATE tags SET threshold=? WHERE name=?", (threshold, name))
        if cur.rowcount == 0:
            raise UserError(f"There is no tag called {name!r}.")

    def remove_tag(self, name: str) -> bool:
        """Forget a tag. Its sentences' scores stay cached (re-adding it costs nothing)."""
        with self.transaction():
            cur = self.conn.execute("DELETE FROM tags WHERE name=?", (name,))
        return cur.rowcount > 0

    # ------------------------------------------------------------------------------- models

    def ensure_model(self, score_key: str, source: str, revision: str | None = None) -> int:
        """The model's row (its identity, for people reading the cache), created when new."""
        found = self.model_id(score_key)
        if found is not None:
            return found
        with self.transaction():  # another process may be adding the same model right now
            self.conn.execute(
                "INSERT INTO models(score_key, source, revision) VALUES (?, ?, ?) "
                "ON CONFLICT(score_key) DO NOTHING",
                (score_key, source, revision),
            )
            found = self.model_id(score_key)
        return int(found)  # type: ignore[arg-type]

    def model_record(self, score_key: str) -> tuple[str, str | None] | None:
        """(source, revision) of the model a score key names, or None when the cache has none."""
        row = self.conn.execute(
            "SELECT source, revision FROM models WHERE score_key=?", (score_key,)
        ).fetchone()
        return None if row is None else (str(row[0]), row[1])

    def merge_results(
        self,
        score_key: str,
        source: str,
        revision: str | None,
        chunks: Iterable[tuple[Sequence[ScoreRow], Mapping[str, np.ndarray], Mapping[str, str]]],
    ) -> tuple[int, int, int]:
        """Merge results computed elsewhere (``results import``): one transaction per chunk
        (scores, ITC vectors, decode errors; the caller bounds its size), so an import of any
        size never holds the write lock for long, and other processes write between chunks.
        Check every chunk before (``core.results.merge_files`` does): a failure midway (a full
        disk, a kill) keeps the chunks merged so far, and merging again completes it, as what
        the cache already holds wins (``ON CONFLICT DO NOTHING``: merging twice changes
        nothing). Returns the rows added: (scores, ITC vectors, decode errors)."""
        added = [0, 0, 0]
        self.ensure_model(score_key, source, revision)
        mid = self.model_id(score_key)

        def cid(content: str) -> int:
            return self._intern("contents", "hash", content, True)  # type: ignore[return-value]

        for scores, features, errors in chunks:
            with self.transaction():
                texts = self._text_ids((r.sentence for r in scores), create=True)
                statements: tuple[tuple[str, list[tuple[object, ...]]], ...] = (
                    (
                        "INSERT INTO scores(content_id, model_id, text_id, itm, logit_no, "
                        "logit_yes, cosine) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [
                            (cid(r.content), mid, texts[r.sentence], r.itm, r.logit_no,
                             r.logit_yes, r.cosine)
                            for r in scores
                        ],
                    ),
                    (
                        "INSERT INTO image_features(content_id, model_id, itc) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING",
                        [
                            (cid(c), mid, np.asarray(v, np.float32).tobytes())
                            for c, v in features.items()
                        ],
                    ),
                    (
                        "INSERT INTO decode_errors(content_id, model_id, reason) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING",
                        [(cid(c), mid, reason) for c, reason in errors.items()],
                    ),
                )  # fmt: skip
                for n, (sql, rows) in enumerate(statements):
                    before = self.conn.total_changes
                    self.conn.executemany(sql, rows)
                    added[n] += self.conn.total_changes - before
        return added[0], added[1], added[2]

    def model_keys(self, source: str) -> list[tuple[str, str | None]]:
        """(score key, revision) of every model row recorded for a source, newest first: what a
        reader matches its settings against where the model itself is not on this machine."""
        rows = self.conn.execute(
            "SELECT score_key, revision FROM models WHERE source=? ORDER BY id DESC", (source,)
        )
        return [(str(key), revision) for key, revision in rows]

    # ------------------------------------------------------------------------------- photos

    def all_photos(self) -> list[PhotoRecord]:
        """Every photo the cache knows, wherever it is (every drive), sorted by path."""
        rows = self.conn.execute(
            "SELECT p.path, p.size, p.mtime_ns, c.hash, p.read_error, i.hash FROM photos p "
            "LEFT JOIN contents c ON c.id = p.content_id "
            "LEFT JOIN contents i ON i.id = p.identity_id"
        )
        return sorted(
            (
                PhotoRecord(path, size, mtime, content, error, _other(identity, content))
                for path, size, mtime, content, error, identity in rows
            ),
            key=lambda p: p.path,
        )

    def photos_under(
        self, folders: Iterable[str | os.PathLike[str]], recursive: bool = True
    ) -> list[PhotoRecord]:
        """The photos the cache knows under ``folders`` (absolute paths), sorted by path."""
        out: dict[str, PhotoRecord] = {}
        for folder in folders:
            low, high = folder_range(folder)
            rows = self.conn.execute(
                "SELECT p.path, p.size, p.mtime_ns, c.hash, p.read_error, i.hash FROM photos p "
                "LEFT JOIN contents c ON c.id = p.content_id "
                "LEFT JOIN contents i ON i.id = p.identity_id "
                "WHERE p.path >= CAST(? AS TEXT) AND p.path < CAST(? AS TEXT)",
                (_db_path(low), _db_path(high)),
            )
            for path, size, mtime, content, error, identity in rows:
                if recursive or os.sep not in path[len(low) :]:
                    out[path] = PhotoRecord(
                        path, size, mtime, content, error, _other(identity, content)
                    )
        return [out[p] for p in sorted(out)]

    def photo_paths_in(self, folder: str) -> list[str]:
        """The paths of the photos the cache knows directly in ``folder`` (an absolute path;
        ``services.outputs.KnownPhotos``: an output never replaces one)."""
        low, high = folder_range(folder)
        rows = self.conn.execute(
            "SELECT path FROM photos WHERE path >= CAST(? AS TEXT) AND path < CAST(? AS TEXT)",
            (_db_path(low), _db_path(high)),
        )
        return [str(path) for (path,) in rows if os.sep not in str(path)[len(low) :]]

    def photo_paths_of_size(self, size: int) -> list[str]:
        """The paths of the photos the cache knows of ``size`` bytes (the candidates a hard link
        to a photo, made elsewhere, can be one of)."""
        rows = self.conn.execute("SELECT path FROM photos WHERE size=?", (size,))
        return [str(path) for (path,) in rows]

    def record_photos(self, photos: Sequence[PhotoRecord]) -> None:
        """Insert or update files (path -> size, mtime, content)."""
        with self.transaction():
            rows = []
            for p in photos:
                cid = iid = None
                if p.content is not None:
                    cid = self._intern("contents", "hash", p.content, True)
                    iid = self._intern("contents", "hash", p.identity or p.content, True)
                rows.append((_db_path(p.path), p.size, p.mtime_ns, cid, p.read_error, iid))
            self.conn.executemany(
                "INSERT INTO photos(path, size, mtime_ns, content_id, read_error, identity_id) "
                "VALUES (CAST(? AS TEXT), ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "size=excluded.size, mtime_ns=excluded.mtime_ns, content_id=excluded.content_id, "
                "read_error=excluded.read_error, identity_id=excluded.identity_id",
                rows,
            )

    def forget_photos(self, paths: Sequence[str]) -> None:
        """Drop files that are gone. Scores stay, keyed by content: a moved photo keeps them."""
        with self.transaction():
            self.conn.executemany(
                "DELETE FROM photos WHERE path=CAST(? AS TEXT)", [(_db_path(p),) for p in paths]
            )

    def contents_of(self, files: Sequence[tuple[str, int, int]]) -> dict[str, str]:
        """path -> content hash, for the files (path, size, mtime_ns) the cache knows unchanged."""
        return {path: str(r.content) for path, r in self.records_of(files).items()}

    def records_of(self, files: Sequence[tuple[str, int, int]]) -> dict[str, PhotoRecord]:
        """path -> its record, for the files (path, size, mtime_ns) the cache knows unchanged."""
        out: dict[str, PhotoRecord] = {}
        for chunk in _chunks(files):
            wanted = {_db_path(p): (p, size, mtime) for p, size, mtime in chunk}
            marks = ",".join("CAST(? AS TEXT)" for _ in chunk)
            rows = self.conn.execute(
                "SELECT p.path, p.size, p.mtime_ns, c.hash, i.hash FROM photos p "
                "JOIN contents c ON c.id = p.content_id "
                "LEFT JOIN contents i ON i.id = p.identity_id "
                f"WHERE p.path IN ({marks})",
                list(wanted),
            )
            for path, size, mtime, content, identity in rows:
                known = wanted.get(path)
                if known is not None and (known[1], known[2]) == (size, mtime):
                    out[known[0]] = PhotoRecord(
                        known[0], size, mtime, content, None, _other(identity, content)
                    )
        return out

    # ------------------------------------------------------------------------------- views

    def photo_results(
        self,
        score_key: str,
        folders: Iterable[str | os.PathLike[str]],
        recursive: bool = True,
        tags: Sequence[Tag] | None = None,
    ) -> list[PhotoResult]:
        """Photos under ``folders`` with their errors and derived tags (labels and calibrations
        included): what views, exports and sidecars show."""
        tags = self.tags() if tags is None else tags
        photos = self.photos_under(folders, recursive)
        contents = [p.content for p in photos if p.content]
        wanted = {s for t in tags for s in t.sentences}
        scores = self.sentence_scores(score_key, contents, sorted(wanted))
        errors = self.decode_errors(score_key, contents)
        labels = self.labels(contents)
        calibrations = self.calibrations(score_key)
        features: dict[str, np.ndarray] = {}
        if any(c.needs_features for c in calibrations.values()):
            features = self.image_features(score_key, contents)
        out = []
        for p in photos:
            error = p.read_error or (errors.get(p.content) if p.content else None)
            if error is not None or p.content is None:
                out.append(PhotoResult(p.path, error or "not read yet", {}))
            else:
                derived = derive_tags(
                    tags,
                    scores[p.content],
                    labels.get(p.content),
                    calibrations,
                    features.get(p.content),
                )
                out.append(PhotoResult(p.path, None, derived))
        return out
