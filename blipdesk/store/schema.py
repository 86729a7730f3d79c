"""The cache database's schema and its step-by-step migrations.

``PRAGMA user_version`` holds the schema version. Every step ``n -> n + 1`` is a list of SQL
statements run in one transaction together with the version bump, so a crash mid-migration leaves
the previous version intact. A fresh database climbs the same ladder as an old one, so there is one
path to test. Before migrating a database that already holds data, a copy is kept next to it
(``library.sqlite3.v1.bak``). A database newer than this code is refused, untouched.

Why the integer ids: a score row is (photo content, model, sentence) -> four numbers. Interning the
64-character content hash, the score key and the sentence text keeps a row near 40 bytes instead of
near 200, which matters at 10,000 photos x 20 sentences.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from blipdesk.infra.errors import UserError
from blipdesk.store import write_lock

log = logging.getLogger(__name__)

# Version 1: tags, photos, scores (blipdesk 0.1 development builds).
# Version 2: tag colours, ITC image features per (content, model), decode errors per model.
# Version 3: the vision cache's index (feature_cache.py): which files exist, their size, last use.
# Version 4: star ratings and pick/reject flags per photo content (a moved photo keeps them).
# Version 5: labels (yes/no per tag and content) and calibrations (per tag and model).
# Version 6: colour labels beside the ratings; a perceptual hash of each photo's pixels (near
#            duplicates: burst frames, re-exports), computed when the scan decodes it.
# Version 7: what computed each score (the model's precision, and whether its vision output came
#            from the vision cache); scores from before say nothing (NULL). A photo's content
#            identity (labels, ratings) apart from its image key (scores: + a RAW's decoding rule).
# Version 8: a person's own keywords, by content, and the suggestions they said no to.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            threshold REAL NOT NULL DEFAULT 0.5
        )""",
        """CREATE TABLE tag_sentences (
            tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (tag_id, position)
        )""",
        "CREATE TABLE texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
        "CREATE TABLE contents (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE)",
        """CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            score_key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            revision TEXT
        )""",
        """CREATE TABLE photos (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            content_id INTEGER REFERENCES contents(id),
            read_error TEXT
        )""",
        "CREATE INDEX photos_by_content ON photos(content_id)",
        """CREATE TABLE scores (
            content_id INTEGER NOT NULL,
            model_id INTEGER NOT NULL,
            text_id INTEGER NOT NULL,
            itm REAL NOT NULL,
            logit_no REAL NOT NULL,
            logit_yes REAL NOT NULL,
            cosine REAL NOT NULL,
            PRIMARY KEY (content_id, model_id, text_id)
        ) WITHOUT ROWID""",
    ),
    2: (
        "ALTER TABLE tags ADD COLUMN colour TEXT",
        # A rowid table on purpose: a 1 KiB blob overflows a WITHOUT ROWID (index b-tree) row
        # onto a page of its own, which quadrupled the cache's size per photo.
        """CREATE TABLE image_features (
            content_id INTEGER NOT NULL,
            model_id INTEGER NOT NULL,
            itc BLOB NOT NULL,
            PRIMARY KEY (content_id, model_id)
        )""",
        """CREATE TABLE decode_errors (
            content_id INTEGER NOT NULL,
            model_id INTEGER NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (content_id, model_id)
        ) WITHOUT ROWID""",
    ),
    3: (
        # One set per image key (weights + decoding rule); ``folder`` is its directory's name.
        """CREATE TABLE feature_sets (
            id INTEGER PRIMARY KEY,
            image_key TEXT NOT NULL UNIQUE,
            folder TEXT NOT NULL
        )""",
        """CREATE TABLE feature_files (
            set_id INTEGER NOT NULL REFERENCES feature_sets(id) ON DELETE CASCADE,
            content_id INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            used REAL NOT NULL,
            PRIMARY KEY (set_id, content_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX feature_files_by_use ON feature_files(used)",
    ),
    4: (
        # stars 0-5; flag 1 picked, -1 rejected, 0 neither. Keyed by content, like scores.
        """CREATE TABLE ratings (
            content_id INTEGER PRIMARY KEY,
            stars INTEGER NOT NULL DEFAULT 0 CHECK (stars BETWEEN 0 AND 5),
            flag INTEGER NOT NULL DEFAULT 0 CHECK (flag IN (-1, 0, 1)),
            updated REAL NOT NULL
        )""",
    ),
    5: (
        # Labels (issue 13): a person's yes (1) or no (0) for a tag on a photo's content, so they
        # survive renames and rescans; a removed tag takes its labels with it.
        """CREATE TABLE labels (
            tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
            content_id INTEGER NOT NULL,
            value INTEGER NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (tag_id, content_id)
        ) WITHOUT ROWID""",
        # A calibration applied (per tag and model), in log-odds: match when
        # slope * logit(best ITM) + bias + weights . ITC vector >= 0 (weights: float32 blob).
        """CREATE TABLE tag_calibrations (
            tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
            model_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            slope REAL NOT NULL,
            bias REAL NOT NULL,
            weights BLOB,
            at REAL NOT NULL,
            PRIMARY KEY (tag_id, model_id)
        )""",
    ),
    6: (
        # A colour label (Lightroom's and digiKam's): red, yellow, green, blue, purple; '' none.
        "ALTER TABLE ratings ADD COLUMN colour TEXT NOT NULL DEFAULT ''",
        # A perceptual hash of the decoded photo (``core/pixel_hash.py``, its bits packed), by
        # content: the same pixels in another file, or a burst frame, hash alike.
        """CREATE TABLE pixel_hashes (
            content_id INTEGER PRIMARY KEY,
            bits BLOB NOT NULL
        )""",
    ),
    7: (
        # Interned: a score row stays near 40 bytes (one small integer more).
        """CREATE TABLE provenances (
            id INTEGER PRIMARY KEY,
            precision TEXT NOT NULL,
            vision_cache INTEGER NOT NULL,
            UNIQUE (precision, vision_cache)
        )""",
        "ALTER TABLE scores ADD COLUMN provenance_id INTEGER REFERENCES provenances(id)",
        # A file's content identity (its bytes: labels and ratings are kept by it) beside its
        # image key (content_id: the identity plus a RAW's decoding rule, what scores are kept
        # by). Until now both were one key, so every photo's identity is its key.
        "ALTER TABLE photos ADD COLUMN identity_id INTEGER",
        "UPDATE photos SET identity_id = content_id",
    ),
    8: (
        # A person's own keywords (issue 26), hierarchical ("Places|Portugal|Lisbon"), kept by
        # content like labels and ratings. origin: "typed" (added in blipdesk, kept until removed
        # there) or "imported" (read from the photo's XMP: a re-import replaces these).
        "CREATE TABLE keywords (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        """CREATE TABLE photo_keywords (
            content_id INTEGER NOT NULL,
            keyword_id INTEGER NOT NULL REFERENCES keywords(id) ON DELETE CASCADE,
            origin TEXT NOT NULL CHECK (origin IN ('typed', 'imported')),
            at REAL NOT NULL,
            PRIMARY KEY (keyword_id, content_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX photo_keywords_by_content ON photo_keywords(content_id)",
        # a suggestion the person said no to: never suggested again, and a counter-example
        """CREATE TABLE keyword_rejections (
            content_id INTEGER NOT NULL,
            keyword_id INTEGER NOT NULL REFERENCES keywords(id) ON DELETE CASCADE,
            at REAL NOT NULL,
            PRIMARY KEY (keyword_id, content_id)
        ) WITHOUT ROWID""",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)


class DatabaseTooNewError(UserError):
    """The database was written by a newer blipdesk; this one refuses to touch it."""


class ReadOnlyCacheError(UserError):
    """The cache cannot be written where it is (a read-only mount, no write permission)."""


def read_only_place(path: Path) -> bool:
    """True when the cache at ``path`` cannot be written: its folder is on a read-only mount or
    not writable for this process, or the file itself is not writable. A folder that does not
    exist yet is not read-only (it will be created)."""
    folder = path.parent
    if not folder.is_dir():
        return False
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except (OSError, AttributeError):  # no statvfs (Windows): permissions decide
        pass
    if not os.access(folder, os.W_OK | os.X_OK):
        return True
    return path.exists() and not os.access(path, os.W_OK)


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to a cache nobody can write: SQLite opens a WAL database read-only
    only where its -shm index exists or can be created (sqlite.org/wal.html, "Read-Only
    Databases"). With the -wal and -shm files there (a crash, a copy), ``mode=ro`` reads them.
    Without a -wal file, every committed page is in the database file, so ``immutable=1`` (no
    locks, no -shm) reads exactly what was committed; it is sound because nothing can write here.
    A -wal file with content but no -shm is refused: its pages would be silently ignored."""
    if not path.exists():
        raise ReadOnlyCacheError(
            f"There is no cache in the read-only data folder {path.parent} yet."
        )
    wal = Path(f"{path}-wal")
    try:
        conn = _connect_ro(path, "mode=ro")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        if wal.exists() and wal.stat().st_size > 0:
            raise ReadOnlyCacheError(
                f"The cache {path} has changes in {wal.name} that cannot be read in a read-only "
                "folder without its -shm file; open it once where it is writable."
            ) from None
        conn = _connect_ro(path, "mode=ro&immutable=1")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise UserError(
            f"The cache {path} cannot be read ({exc}); move it away to start a fresh cache."
        ) from None
    if version != SCHEMA_VERSION:
        conn.close()
        _too_new(path, version)
        raise ReadOnlyCacheError(
            f"The cache {path} was written by an older blipdesk and must be upgraded, which "
            "needs to write; its folder is read-only. Run blipdesk once where it is writable."
        )
    return conn


def _connect_ro(path: Path, query: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"{path.as_uri()}?{query}",
        uri=True,
        timeout=write_lock.BUSY_TIMEOUT_S,
        isolation_level=None,
    )
    conn.text_factory = _text
    conn.execute("PRAGMA query_only=ON")
    return conn


def _checked_version(path: Path) -> int:
    version = _peek_version(path)
    _too_new(path, version)
    return version


def _too_new(path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise DatabaseTooNewError(
            f"The cache {path} was written by a newer blipdesk (schema {version}, this version "
            f"understands up to {SCHEMA_VERSION}); update blipdesk, or use another --data-dir. "
            "The file was left untouched."
        )


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the database at the current schema (migrating it first when needed).

    Autocommit mode (``isolation_level=None``): every write goes through an explicit
    ``BEGIN IMMEDIATE`` (see ``Library.transaction``), which takes the write lock up front instead of
    failing with SQLITE_BUSY when a read transaction tries to upgrade.
    """
    path = Path(path)
    if read_only_place(path):
        if readonly:
            return _open_read_only(path)
        raise ReadOnlyCacheError(
            f"The data folder {path.parent} is read-only, and this command needs to write to "
            "its cache; make it writable or choose another --data-dir (commands that only read, "
            "like 'tags list' and 'export', work on it as it is)."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    version = _checked_version(path)
    if version < SCHEMA_VERSION:
        conn = _open(path)
        try:
            migrate(conn, path, version)
        finally:
            conn.close()
            write_lock.forget_writer(path)
    conn = _open(path)
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


def _peek_version(path: Path) -> int:
    """Read ``user_version`` without writing anything (no WAL switch, no file creation)."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    try:
        conn = sqlite3.connect(
            f"{path.as_uri()}?mode=ro", uri=True, timeout=write_lock.BUSY_TIMEOUT_S
        )
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:  # cannot open it (now): nothing says it is damaged
        raise UserError(f"The cache {path} cannot be opened ({exc}).") from None
    except sqlite3.DatabaseError as exc:  # not a database, malformed: really damaged
        raise UserError(
            f"The cache {path} cannot be read ({exc}); move it away to start a fresh cache."
        ) from None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=write_lock.BUSY_TIMEOUT_S, isolation_level=None)
    conn.text_factory = _text  # file names that are not UTF-8 (see library._db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "PRAGMA synchronous=NORMAL"
    )  # safe with WAL: a power cut loses the last commits only
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Climb from ``version`` to ``SCHEMA_VERSION`` one step per transaction."""
    if version > 0:
        backup = path.with_name(f"{path.name}.v{version}.bak")
        log.info("keeping a copy of the cache at schema %d as %s", version, backup)
        dest = sqlite3.connect(backup)
        try:
            conn.backup(dest)
        finally:
            dest.close()
    for target in range(version + 1, SCHEMA_VERSION + 1):
        write_lock.begin_write(conn, path)
        try:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current >= target:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("cache schema migrated to version %d", target)
