"""Perceptual hashes of photos' pixels in the cache, kept by content (near duplicates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from blipdesk.store.connection import Connection, _chunks


class PixelHashes(Connection):
    """Perceptual hashes by content: computed when a scan decodes a photo, read by "more like
    this" and the grid's stacks."""

    def pixel_hashes(self, contents: Sequence[str]) -> dict[str, bytes]:
        """content -> its hash, for the contents that have one."""
        out: dict[str, bytes] = {}
        for chunk in _chunks(list(dict.fromkeys(contents))):
            marks = ",".join("?" for _ in chunk)
            rows = self.conn.execute(
                "SELECT c.hash, h.bits FROM pixel_hashes h "
                f"JOIN contents c ON c.id = h.content_id WHERE c.hash IN ({marks})",
                list(chunk),
            )
            out.update((content, bytes(bits)) for content, bits in rows)
        return out

    def set_pixel_hashes(self, hashes: Mapping[str, bytes]) -> None:
        if not hashes:
            return
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO pixel_hashes(content_id, bits) VALUES (?, ?)",
                [
                    (self._intern("contents", "hash", content, True), bits)
                    for content, bits in hashes.items()
                ],
            )
