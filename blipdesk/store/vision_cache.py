"""The vision cache's index: which image-side files exist per model and decoding rule, their
sizes and when they were last used (``core.feature_cache`` keeps the files themselves)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from blipdesk.store.connection import Connection, _chunks


class VisionCache(Connection):
    """The vision cache's index: its sets and files."""

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
