"""Scores in the cache, per photo content, model and sentence: what is missing, one scanned
batch written in one transaction, and the reads (sentence scores, ITC vectors, decode errors)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from blipdesk.domain.scores import ScoreRow, SentenceScore
from blipdesk.store.connection import Connection, _chunks, _db_path, folder_range


class Scores(Connection):
    """Scores, ITC vectors and decode errors: the SQL of scanning and of reading scores."""

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

            how = self._provenance_ids(scores)
            self.conn.executemany(
                "INSERT OR REPLACE INTO scores(content_id, model_id, text_id, itm, logit_no, "
                "logit_yes, cosine, provenance_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        cid(r.content),
                        mid,
                        texts[r.sentence],
                        r.itm,
                        r.logit_no,
                        r.logit_yes,
                        r.cosine,
                        how.get((r.precision, r.vision_cache)),
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

    def _provenance_ids(self, scores: Sequence[ScoreRow]) -> dict[tuple[str | None, bool], int]:
        """(precision, from the vision cache) -> its row in ``provenances``, created when new
        (inside the caller's transaction); rows of unknown precision have none."""
        out: dict[tuple[str | None, bool], int] = {}
        for how in {(r.precision, r.vision_cache) for r in scores if r.precision is not None}:
            self.conn.execute(
                "INSERT INTO provenances(precision, vision_cache) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                (how[0], int(how[1])),
            )
            (out[how],) = self.conn.execute(
                "SELECT id FROM provenances WHERE precision=? AND vision_cache=?",
                (how[0], int(how[1])),
            ).fetchone()
        return out

    def sentence_scores(
        self, score_key: str, contents: Sequence[str], sentences: Sequence[str] | None = None
    ) -> dict[str, dict[str, SentenceScore]]:
        """Cached scores per content hash and sentence (all cached sentences when ``None``)."""
        mid = self.model_id(score_key)
        out: dict[str, dict[str, SentenceScore]] = {c: {} for c in contents}
        if mid is None or not contents:
            return out
        wanted = None if sentences is None else set(sentences)
        # a few sentences asked for: only their rows are read (their ids, not every score)
        few = wanted is not None and len(wanted) <= 50
        ids = list(self._text_ids(wanted).values()) if few and wanted is not None else []
        only = f" AND s.text_id IN ({','.join('?' * len(ids))})" if few else ""
        for part in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                "SELECT c.hash, t.text, s.itm, s.cosine, s.logit_no, s.logit_yes, p.precision, "
                "p.vision_cache FROM scores s "
                "JOIN contents c ON c.id = s.content_id JOIN texts t ON t.id = s.text_id "
                "LEFT JOIN provenances p ON p.id = s.provenance_id "
                f"WHERE s.model_id=? AND c.hash IN ({marks}){only}",
                (mid, *part, *ids),
            )
            for content, text, itm, cosine, lno, lyes, precision, cached in rows:
                if wanted is None or text in wanted:
                    out[content][text] = SentenceScore(
                        itm, cosine, lno, lyes, precision, None if cached is None else bool(cached)
                    )
        return out

    def itc_size(self, score_key: str) -> int | None:
        """The size of the ITC vectors cached under ``score_key`` (one is read), None when none."""
        mid = self.model_id(score_key)
        if mid is None:
            return None
        row = self.conn.execute(
            "SELECT length(itc) FROM image_features WHERE model_id=? LIMIT 1", (mid,)
        ).fetchone()
        return None if row is None else int(row[0]) // 4

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
