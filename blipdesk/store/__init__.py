"""The library cache (SQLite). Every SQL statement of blipdesk lives in this package; the values
it stores (tags, scores, ratings, calibrations) are ``blipdesk.domain``'s."""

from blipdesk.store.library import Library, database_bytes
from blipdesk.store.schema import SCHEMA_VERSION, DatabaseTooNewError

__all__ = [
    "SCHEMA_VERSION",
    "DatabaseTooNewError",
    "Library",
    "database_bytes",
]
