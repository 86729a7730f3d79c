"""The library cache: tags, photos and their scores. Every SQL statement of blipdesk lives here.

Threads: a ``Library`` wraps one sqlite3 connection, usable only from the thread that opened it
(sqlite3's ``check_same_thread``). The scan thread opens the one writer
(``Library.open(path)``); the GUI and other readers open their own (``readonly=True``). WAL lets
readers and the writer run side by side; keep read calls short so checkpoints can run.

Scores are derived data. A tag's score is the best ITM probability over its sentences and a photo
carries the tag when that score reaches the tag's threshold: both are computed at read time
(``derive_tags``), so moving a threshold re-tags at once and never needs the model.
"""

from __future__ import annotations

import os
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from blipdesk.infra.errors import UserError
from blipdesk.services.sidecars import sidecar_clash, xmp_text_problem
from blipdesk.store.schema import connect

DEFAULT_THRESHOLD = 0.5
_T = TypeVar("_T")
_CHUNK = 500  # host parameters per IN (...) list, well under SQLite's limit


@dataclass(frozen=True)
class Rating:
    """A photo's star rating (0-5) and flag (1 picked, -1 rejected, 0 neither), kept by content."""

    stars: int = 0
    flag: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.stars <= 5 or self.flag not in (-1, 0, 1):
            raise ValueError(f"not a rating: {self.stars} stars, flag {self.flag}")


@dataclass(frozen=True)
class Tag:
    name: str
    sentences: tuple[str, ...]
    threshold: float = DEFAULT_THRESHOLD
    colour: str | None = None


@dataclass(frozen=True)
class PhotoRecord:
    """What the cache knows about one file: where it is and which content it holds."""

    path: str
    size: int
    mtime_ns: int
    content: str | None  # the content hash; None when the file could not be read
    read_error: str | None = None


@dataclass(frozen=True)
class SentenceScore:
    itm: float
    cosine: float
    logit_no: float
    logit_yes: float


@dataclass(frozen=True)
class TagScore:
    score: float  # best ITM probability over the tag's scored sentences (a label's 1/0 for a
    # tag from examples that has no fit yet)
    match: bool
    sentences: Mapping[str, SentenceScore]
    label: bool | None = None  # a person's yes / no for this photo: the match follows it
    logodds: float | None = None  # the calibrated rule's log-odds, when a calibration applies


@dataclass(frozen=True, eq=False)
class Calibration:
    """A tag's learned rule for one model, in log-odds (``blipdesk.core.calibration`` fits it).

    The photo carries the tag when ``slope * logit(best ITM) + bias + weights . itc >= 0``.
    ``kind`` says which step made it: "threshold" (slope 1: a moved threshold), "logistic"
    (slope and bias), "linear" (plus ``weights`` on the 256-value ITC image vector, the sentence
    score staying the prior) or "examples" (a tag without a sentence: slope 0, weights only)."""

    kind: str
    slope: float
    bias: float
    weights: np.ndarray | None = None  # float32; None for "threshold" and "logistic"

    @property
    def needs_features(self) -> bool:
        return self.weights is not None

    def threshold(self) -> float | None:
        """The ITM threshold this rule amounts to when it has no image term (else None)."""
        if self.weights is not None or self.slope <= 0:
            return None
        return float(1.0 / (1.0 + np.exp(self.bias / self.slope)))

    def logodds(self, score: float | None, feature: np.ndarray | None) -> float | None:
        """The rule's log-odds for one photo; None when it lacks what the rule needs."""
        z = self.bias
        if self.slope:
            if score is None:
                return None
            z += self.slope * logit(score)
        if self.weights is not None:
            if feature is None or feature.shape != self.weights.shape:
                if not self.slope:
                    return None  # a tag from examples alone cannot guess without the vector
            else:
                z += float(np.dot(self.weights, feature))
        return float(z)


@dataclass(frozen=True)
class PhotoResult:
    """One photo as the person sees it: its error, or its tags derived from cached scores."""

    path: str
    error: str | None
    tags: Mapping[str, TagScore] = field(default_factory=dict)


def duplicate_groups(records: Iterable[PhotoRecord]) -> dict[str, int]:
    """path -> how many of ``records`` hold its content, for contents held by two or more: the
    same photo twice (a copy, a backup folder). Scores are per content, so they are scored once."""
    by_content: dict[str, list[str]] = {}
    for r in records:
        if r.content is not None:
            by_content.setdefault(r.content, []).append(r.path)
    return {p: len(group) for group in by_content.values() if len(group) > 1 for p in group}


@dataclass(frozen=True)
class ScoreRow:
    """One (photo content, sentence) result to store."""

    content: str
    sentence: str
    itm: float
    logit_no: float
    logit_yes: float
    cosine: float


def logit(p: float) -> float:
    """log(p / (1 - p)), clipped away from 0 and 1 so that a saturated ITM stays finite."""
    p = min(max(float(p), 1e-6), 1.0 - 1e-6)
    return float(np.log(p / (1.0 - p)))


def tag_score(
    tag: Tag,
    scores: Mapping[str, SentenceScore],
    label: bool | None = None,
    calibration: Calibration | None = None,
    feature: np.ndarray | None = None,
) -> TagScore | None:
    """Whether a photo carries ``tag``. The one rule: the CLI, the export, the sidecars and the
    window's grid all derive tags with it.

    A photo the person labelled follows its label. Otherwise, with no calibration, the best ITM
    over the tag's sentences against its threshold (exactly as before labels existed); with one,
    the calibrated log-odds (``Calibration``) reaching 0. None when none of the tag's sentences is
    scored yet (unknown is not "no match"), or, for a tag from examples alone, when neither a
    label nor a fit with the photo's ITC vector can say."""
    scored = {s: scores[s] for s in tag.sentences if s in scores}
    if tag.sentences and not scored:
        return None
    best = max(v.itm for v in scored.values()) if scored else None
    z = None if calibration is None else calibration.logodds(best, feature)
    if best is None:  # a tag from examples alone
        if z is None:
            if label is None:
                return None
            return TagScore(float(label), label, scored, label)
        best = float(1.0 / (1.0 + np.exp(-z)))
    match = best >= tag.threshold if z is None else z >= 0.0
    if label is not None:
        match = label
    return TagScore(best, match, scored, label, z)


def derive_tags(
    tags: Sequence[Tag],
    scores: Mapping[str, SentenceScore],
    labels: Mapping[str, bool] | None = None,
    calibrations: Mapping[str, Calibration] | None = None,
    feature: np.ndarray | None = None,
) -> dict[str, TagScore]:
    """A photo's tags (``tag_score``) from its sentence scores, its labels (tag -> yes/no), the
    tags' calibrations and its ITC vector; tags not scored yet left out."""
    labels = labels or {}
    calibrations = calibrations or {}
    derived = {
        tag.name: tag_score(tag, scores, labels.get(tag.name), calibrations.get(tag.name), feature)
        for tag in tags
    }
    return {name: ts for name, ts in derived.items() if ts is not None}


def folder_range(folder: str | os.PathLike[str]) -> tuple[str, str]:
    """The [low, high) range of path strings strictly under ``folder``: an index range scan."""
    prefix = str(folder).rstrip(os.sep) + os.sep
    return prefix, prefix[:-1] + chr(ord(os.sep) + 1)


def database_bytes(path: str | os.PathLike[str]) -> int:
    """The cache's size on disk: the database file and its ``-wal`` and ``-shm`` companions
    (after a busy scan the WAL can be as large as the file itself)."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with suppress(OSError):
            total += os.stat(f"{os.fspath(path)}{suffix}").st_size
    return total


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


class Library:
    """A connection to the cache. See the module docstring for the threading rule."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._ids: dict[tuple[str, str], int] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> Library:
        path = Path(path)
        return cls(connect(path, readonly=readonly), path, readonly)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it lands, or none of it."""
        if self.readonly:
            raise RuntimeError("this Library was opened read-only")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._ids.clear()  # ids interned in the rolled-back transaction no longer exist
            raise
        self.conn.execute("COMMIT")

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
        """Merge results computed elsewhere (``results import``): every chunk's (scores, ITC
        vectors, decode errors) in ONE transaction, so a failure anywhere (a damaged chunk read
        late, a full disk, a kill) leaves the cache exactly as it was. What the cache already
        holds wins (``ON CONFLICT DO NOTHING``), so merging twice changes nothing. Returns the
        rows added: (scores, ITC vectors, decode errors)."""
        added = [0, 0, 0]
        with self.transaction():
            self.conn.execute(
                "INSERT INTO models(score_key, source, revision) VALUES (?, ?, ?) "
                "ON CONFLICT(score_key) DO NOTHING",
                (score_key, source, revision),
            )
            mid = self.model_id(score_key)

            def cid(content: str) -> int:
                return self._intern("contents", "hash", content, True)  # type: ignore[return-value]

            for scores, features, errors in chunks:
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

    def latest_score_key(self, source: str) -> str | None:
        """The most recently added score key for a model source: lets ``export`` read the cache on
        a machine where the model itself is not available."""
        row = self.conn.execute(
            "SELECT score_key FROM models WHERE source=? ORDER BY id DESC LIMIT 1", (source,)
        ).fetchone()
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------------------- photos

    def all_photos(self) -> list[PhotoRecord]:
        """Every photo the cache knows, wherever it is (every drive), sorted by path."""
        rows = self.conn.execute(
            "SELECT p.path, p.size, p.mtime_ns, c.hash, p.read_error FROM photos p "
            "LEFT JOIN contents c ON c.id = p.content_id"
        )
        return sorted((PhotoRecord(*row) for row in rows), key=lambda p: p.path)

    def photos_under(
        self, folders: Iterable[str | os.PathLike[str]], recursive: bool = True
    ) -> list[PhotoRecord]:
        """The photos the cache knows under ``folders`` (absolute paths), sorted by path."""
        out: dict[str, PhotoRecord] = {}
        for folder in folders:
            low, high = folder_range(folder)
            rows = self.conn.execute(
                "SELECT p.path, p.size, p.mtime_ns, c.hash, p.read_error FROM photos p "
                "LEFT JOIN contents c ON c.id = p.content_id "
                "WHERE p.path >= CAST(? AS TEXT) AND p.path < CAST(? AS TEXT)",
                (_db_path(low), _db_path(high)),
            )
            for path, size, mtime, content, error in rows:
                if recursive or os.sep not in path[len(low) :]:
                    out[path] = PhotoRecord(path, size, mtime, content, error)
        return [out[p] for p in sorted(out)]

    def record_photos(self, photos: Sequence[PhotoRecord]) -> None:
        """Insert or update files (path -> size, mtime, content)."""
        with self.transaction():
            rows = []
            for p in photos:
                cid = (
                    None if p.content is None else self._intern("contents", "hash", p.content, True)
                )
                rows.append((_db_path(p.path), p.size, p.mtime_ns, cid, p.read_error))
            self.conn.executemany(
                "INSERT INTO photos(path, size, mtime_ns, content_id, read_error) "
                "VALUES (CAST(? AS TEXT), ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET size=excluded.size, "
                "mtime_ns=excluded.mtime_ns, content_id=excluded.content_id, "
                "read_error=excluded.read_error",
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
        out: dict[str, str] = {}
        for chunk in _chunks(files):
            wanted = {_db_path(p): (p, size, mtime) for p, size, mtime in chunk}
            marks = ",".join("CAST(? AS TEXT)" for _ in chunk)
            rows = self.conn.execute(
                "SELECT p.path, p.size, p.mtime_ns, c.hash FROM photos p "
                f"JOIN contents c ON c.id = p.content_id WHERE p.path IN ({marks})",
                list(wanted),
            )
            for path, size, mtime, content in rows:
                known = wanted.get(path)
                if known is not None and (known[1], known[2]) == (size, mtime):
                    out[known[0]] = content
        return out

    # ------------------------------------------------------------------------------- ratings

    def ratings(self, contents: Sequence[str]) -> dict[str, Rating]:
        """content -> its rating, for the contents that have one."""
        out: dict[str, Rating] = {}
        for chunk in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" for _ in chunk)
            rows = self.conn.execute(
                "SELECT c.hash, r.stars, r.flag FROM ratings r "
                f"JOIN contents c ON c.id = r.content_id WHERE c.hash IN ({marks})",
                list(chunk),
            )
            out.update((content, Rating(stars, flag)) for content, stars, flag in rows)
        return out

    def set_ratings(self, ratings: Mapping[str, Rating], when: float) -> None:
        """Store these contents' ratings (a 0-star, unflagged rating is forgotten)."""
        with self.transaction():
            for content, rating in ratings.items():
                cid = self._intern("contents", "hash", content, True)
                if rating == Rating():
                    self.conn.execute("DELETE FROM ratings WHERE content_id=?", (cid,))
                else:
                    self.conn.execute(
                        "INSERT INTO ratings(content_id, stars, flag, updated) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(content_id) DO UPDATE SET stars=excluded.stars, "
                        "flag=excluded.flag, updated=excluded.updated",
                        (cid, rating.stars, rating.flag, when),
                    )

    # ------------------------------------------------------------------------------- scores

    def missing_work(
        self, score_key: str, contents: Sequence[str], sentences: Sequence[str]
    ) -> dict[str, tuple[tuple[str, ...], bool]]:
        """For each content hash that needs the model: (sentences not yet scored, features needed).

        Contents with a recorded decode error under this model are not retried: the file is the
        same bytes, so it would fail the same way."""
        mid = self.model_id(score_key)
        if mid is None:
            return {c: (tuple(sentences), True) for c in dict.fromkeys(contents)}
        text_ids = self._text_ids(sentences)
        cids = {c: self._intern("contents", "hash", c, False) for c in dict.fromkeys(contents)}
        known = [cid for cid in cids.values() if cid is not None]
        done_pairs: set[tuple[int, int]] = set()
        with_features: set[int] = set()
        failed: set[int] = set()
        for part in _chunks(known):
            marks = ",".join("?" * len(part))
            if text_ids:
                tmarks = ",".join("?" * len(text_ids))
                done_pairs.update(
                    self.conn.execute(
                        f"SELECT content_id, text_id FROM scores WHERE model_id=? "
                        f"AND content_id IN ({marks}) AND text_id IN ({tmarks})",
                        (mid, *part, *text_ids.values()),
                    )
                )
            for table, into in (("image_features", with_features), ("decode_errors", failed)):
                into.update(
                    r[0]
                    for r in self.conn.execute(
                        f"SELECT content_id FROM {table} WHERE model_id=? AND content_id IN ({marks})",
                        (mid, *part),
                    )
                )
        out = {}
        for content, cid in cids.items():
            if cid in failed:
                continue
            todo = tuple(s for s in sentences if (cid, text_ids.get(s)) not in done_pairs)
            needs_features = cid not in with_features
            if todo or needs_features:
                out[content] = (todo, needs_features)
        return out

    def write_batch(
        self,
        score_key: str,
        scores: Sequence[ScoreRow],
        features: Mapping[str, np.ndarray],
        errors: Mapping[str, str],
    ) -> None:
        """One scored batch in one transaction: a crash loses at most this batch."""
        mid = self.model_id(score_key)
        if mid is None:
            raise RuntimeError("ensure_model() first")
        with self.transaction():
            texts = self._text_ids((r.sentence for r in scores), create=True)

            def cid(content: str) -> int:
                return self._intern("contents", "hash", content, True)  # type: ignore[return-value]

            self.conn.executemany(
                "INSERT OR REPLACE INTO scores(content_id, model_id, text_id, itm, logit_no, "
                "logit_yes, cosine) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        cid(r.content),
                        mid,
                        texts[r.sentence],
                        r.itm,
                        r.logit_no,
                        r.logit_yes,
                        r.cosine,
                    )
                    for r in scores
                ],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO image_features(content_id, model_id, itc) VALUES (?, ?, ?)",
                [(cid(c), mid, np.asarray(v, np.float32).tobytes()) for c, v in features.items()],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO decode_errors(content_id, model_id, reason) VALUES (?, ?, ?)",
                [(cid(c), mid, reason) for c, reason in errors.items()],
            )

    def sentence_scores(
        self, score_key: str, contents: Sequence[str], sentences: Sequence[str] | None = None
    ) -> dict[str, dict[str, SentenceScore]]:
        """Cached scores per content hash and sentence (all cached sentences when ``None``)."""
        mid = self.model_id(score_key)
        out: dict[str, dict[str, SentenceScore]] = {c: {} for c in contents}
        if mid is None or not contents:
            return out
        wanted = None if sentences is None else set(sentences)
        for part in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                "SELECT c.hash, t.text, s.itm, s.cosine, s.logit_no, s.logit_yes FROM scores s "
                "JOIN contents c ON c.id = s.content_id JOIN texts t ON t.id = s.text_id "
                f"WHERE s.model_id=? AND c.hash IN ({marks})",
                (mid, *part),
            )
            for content, text, itm, cosine, lno, lyes in rows:
                if wanted is None or text in wanted:
                    out[content][text] = SentenceScore(itm, cosine, lno, lyes)
        return out

    def image_features(self, score_key: str, contents: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached ITC image features (float32, L2-normalised) per content hash."""
        mid = self.model_id(score_key)
        out: dict[str, np.ndarray] = {}
        if mid is None:
            return out
        for part in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                "SELECT c.hash, f.itc FROM image_features f JOIN contents c ON c.id = f.content_id "
                f"WHERE f.model_id=? AND c.hash IN ({marks})",
                (mid, *part),
            )
            out.update((content, np.frombuffer(blob, np.float32)) for content, blob in rows)
        return out

    def folder_features(
        self, score_key: str, folders: Iterable[str | os.PathLike[str]], recursive: bool = True
    ) -> tuple[dict[str, str], dict[str, np.ndarray]]:
        """(path -> content, content -> ITC vector) of the photos under ``folders`` that have a
        vector: one range scan per folder (more like this over a whole folder)."""
        mid = self.model_id(score_key)
        paths: dict[str, str] = {}
        vectors: dict[str, np.ndarray] = {}
        if mid is None:
            return paths, vectors
        for folder in folders:
            low, high = folder_range(folder)
            rows = self.conn.execute(
                "SELECT p.path, c.hash, f.itc FROM photos p "
                "JOIN image_features f ON f.content_id = p.content_id AND f.model_id = ? "
                "JOIN contents c ON c.id = p.content_id "
                "WHERE p.path >= CAST(? AS TEXT) AND p.path < CAST(? AS TEXT)",
                (mid, _db_path(low), _db_path(high)),
            )
            for path, content, blob in rows:
                if recursive or os.sep not in path[len(low) :]:
                    paths[path] = content
                    if content not in vectors:
                        vectors[content] = np.frombuffer(blob, np.float32)
        return paths, vectors

    # ------------------------------------------------------------------------------- vision cache

    def feature_set(self, image_key: str, folder: str) -> int:
        """The vision cache's set for an image key (weights + decoding rule), created when new."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO feature_sets(image_key, folder) VALUES (?, ?) "
                "ON CONFLICT(image_key) DO NOTHING",
                (image_key, folder),
            )
            row = self.conn.execute(
                "SELECT id FROM feature_sets WHERE image_key=?", (image_key,)
            ).fetchone()
        return int(row[0])

    def find_feature_set(self, image_key: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM feature_sets WHERE image_key=?", (image_key,)
        ).fetchone()
        return None if row is None else int(row[0])

    def features_present(self, set_id: int, contents: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for part in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" * len(part))
            out.update(
                r[0]
                for r in self.conn.execute(
                    "SELECT c.hash FROM feature_files f JOIN contents c ON c.id = f.content_id "
                    f"WHERE f.set_id=? AND c.hash IN ({marks})",
                    (set_id, *part),
                )
            )
        return out

    def record_features(self, set_id: int, sizes: Mapping[str, int], when: float) -> None:
        """Files just written (content -> bytes), used now."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO feature_files(set_id, content_id, bytes, used) "
                "VALUES (?, ?, ?, ?)",
                [
                    (set_id, self._intern("contents", "hash", c, True), n, when)
                    for c, n in sizes.items()
                ],
            )

    def touch_features(self, set_id: int, contents: Sequence[str], when: float) -> None:
        """Mark files as used now (the budget evicts the least recently used first)."""
        with self.transaction():
            self.conn.executemany(
                "UPDATE feature_files SET used=? WHERE set_id=? AND content_id="
                "(SELECT id FROM contents WHERE hash=?)",
                [(when, set_id, c) for c in contents],
            )

    def forget_features(self, set_id: int, contents: Sequence[str]) -> None:
        with self.transaction():
            self.conn.executemany(
                "DELETE FROM feature_files WHERE set_id=? AND content_id="
                "(SELECT id FROM contents WHERE hash=?)",
                [(set_id, c) for c in contents],
            )

    def forget_all_features(self) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM feature_files")

    def features_total(self) -> int:
        """Bytes of every model's vision files together."""
        return int(
            self.conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM feature_files").fetchone()[0]
        )

    def features_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM feature_files").fetchone()[0])

    def oldest_features(self, limit: int) -> list[tuple[int, str, str, int]]:
        """The least recently used files: (set id, set folder, content hash, bytes)."""
        return [
            (int(sid), str(folder), str(content), int(n))
            for sid, folder, content, n in self.conn.execute(
                "SELECT f.set_id, s.folder, c.hash, f.bytes FROM feature_files f "
                "JOIN feature_sets s ON s.id = f.set_id JOIN contents c ON c.id = f.content_id "
                "ORDER BY f.used LIMIT ?",
                (limit,),
            )
        ]

    def decode_errors(self, score_key: str, contents: Sequence[str]) -> dict[str, str]:
        mid = self.model_id(score_key)
        out: dict[str, str] = {}
        if mid is None:
            return out
        for part in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" * len(part))
            out.update(
                self.conn.execute(
                    "SELECT c.hash, e.reason FROM decode_errors e JOIN contents c "
                    f"ON c.id = e.content_id WHERE e.model_id=? AND c.hash IN ({marks})",
                    (mid, *part),
                )
            )
        return out

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

    # ------------------------------------------------------------------------------- labels

    def _tag_id(self, name: str) -> int:
        row = self.conn.execute("SELECT id FROM tags WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UserError(f"There is no tag called {name!r}.")
        return int(row[0])

    def put_labels(self, tag: str, values: Mapping[str, bool | None]) -> dict[str, bool | None]:
        """Set (True yes, False no) or clear (None) the tag's label on photo contents, in one
        transaction. Returns each content's previous label: pass it back to undo."""
        import time

        with self.transaction():
            tid = self._tag_id(tag)
            previous: dict[str, bool | None] = {}
            now = time.time()
            for content, value in values.items():
                cid = self._intern("contents", "hash", content, True)
                row = self.conn.execute(
                    "SELECT value FROM labels WHERE tag_id=? AND content_id=?", (tid, cid)
                ).fetchone()
                previous[content] = None if row is None else bool(row[0])
                if value is None:
                    self.conn.execute(
                        "DELETE FROM labels WHERE tag_id=? AND content_id=?", (tid, cid)
                    )
                else:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO labels(tag_id, content_id, value, at) "
                        "VALUES (?, ?, ?, ?)",
                        (tid, cid, int(bool(value)), now),
                    )
        return previous

    def labels(self, contents: Sequence[str] | None = None) -> dict[str, dict[str, bool]]:
        """content -> tag name -> yes/no, for ``contents`` (every labelled content when None)."""
        out: dict[str, dict[str, bool]] = {}
        query = (
            "SELECT c.hash, t.name, l.value FROM labels l JOIN tags t ON t.id = l.tag_id "
            "JOIN contents c ON c.id = l.content_id"
        )
        if contents is None:
            rows: Iterable[tuple[str, str, int]] = self.conn.execute(query)
            for content, name, value in rows:
                out.setdefault(content, {})[name] = bool(value)
            return out
        for part in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" * len(part))
            for content, name, value in self.conn.execute(
                f"{query} WHERE c.hash IN ({marks})", tuple(part)
            ):
                out.setdefault(content, {})[name] = bool(value)
        return out

    def tag_labels(self, tag: str) -> dict[str, bool]:
        """content -> yes/no for one tag."""
        return {
            content: bool(value)
            for content, value in self.conn.execute(
                "SELECT c.hash, l.value FROM labels l JOIN tags t ON t.id = l.tag_id "
                "JOIN contents c ON c.id = l.content_id WHERE t.name=?",
                (tag,),
            )
        }

    # ------------------------------------------------------------------------------- calibrations

    def calibrations(self, score_key: str) -> dict[str, Calibration]:
        """tag name -> the calibration applied for this model."""
        mid = self.model_id(score_key)
        if mid is None:
            return {}
        out = {}
        for name, kind, slope, bias, blob in self.conn.execute(
            "SELECT t.name, c.kind, c.slope, c.bias, c.weights FROM tag_calibrations c "
            "JOIN tags t ON t.id = c.tag_id WHERE c.model_id=?",
            (mid,),
        ):
            weights = None if blob is None else np.frombuffer(blob, np.float32).copy()
            out[name] = Calibration(kind, float(slope), float(bias), weights)
        return out

    def set_calibration(self, tag: str, score_key: str, calibration: Calibration | None) -> None:
        """Apply a calibration to the tag for this model (None: back to the plain threshold)."""
        import time

        mid = self.model_id(score_key)
        if mid is None:
            raise UserError("Nothing is scored yet with this model: scan first.")
        with self.transaction():
            tid = self._tag_id(tag)
            if calibration is None:
                self.conn.execute(
                    "DELETE FROM tag_calibrations WHERE tag_id=? AND model_id=?", (tid, mid)
                )
                return
            w = calibration.weights
            self.conn.execute(
                "INSERT OR REPLACE INTO tag_calibrations(tag_id, model_id, kind, slope, bias, "
                "weights, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    tid,
                    mid,
                    calibration.kind,
                    calibration.slope,
                    calibration.bias,
                    None if w is None else np.asarray(w, np.float32).tobytes(),
                    time.time(),
                ),
            )
