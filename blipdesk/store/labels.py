"""Teaching in the cache: a person's yes / no labels per tag and photo content, and the
calibration each tag learnt from them, per model (``domain.calibration``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from blipdesk.domain.calibration import Calibration
from blipdesk.infra.errors import UserError
from blipdesk.store.connection import Connection, _chunks


class Labels(Connection):
    """Labels and calibrations: the SQL of teaching a tag."""

    def put_labels(self, tag: str, values: Mapping[str, bool | None]) -> dict[str, bool | None]:
        """Set (True yes, False no) or clear (None) the tag's label on photo contents, in one
        transaction. Returns each content's previous label: pass it back to undo."""
        import time

        with self.transaction():
            tid = self._tag_id(tag)
            previous: dict[str, bool | None] = {}
            now = time.time()
            identity = self._identities(values)
            for content, value in values.items():
                cid = self._intern("contents", "hash", identity[content], True)
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
            keys = self._keys_of(out)
            return {k: dict(v) for i, v in out.items() for k in keys[i]}
        identity = self._identities(contents)
        for part in _chunks(list(dict.fromkeys(identity.values()))):
            marks = ",".join("?" * len(part))
            for content, name, value in self.conn.execute(
                f"{query} WHERE c.hash IN ({marks})", tuple(part)
            ):
                out.setdefault(content, {})[name] = bool(value)
        return {c: dict(out[i]) for c, i in identity.items() if i in out}

    def tag_labels(self, tag: str) -> dict[str, bool]:
        """content -> yes/no for one tag."""
        got = {
            content: bool(value)
            for content, value in self.conn.execute(
                "SELECT c.hash, l.value FROM labels l JOIN tags t ON t.id = l.tag_id "
                "JOIN contents c ON c.id = l.content_id WHERE t.name=?",
                (tag,),
            )
        }
        keys = self._keys_of(got)
        return {k: v for i, v in got.items() for k in keys[i]}

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
