"""What a results file may hold, checked before and as it is read (``core/results.py``): the
limits its footer is held to before a value is read, and the checks of every value (numpy over
Arrow buffers). A check that fails raises ``Refused`` with the reason; ``ResultsFile`` turns it
into its one-line ``ResultsFileError`` naming the file."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blipdesk.domain.tags import Tag
from blipdesk.infra.display import display_text

ROW_GROUP = 2048  # photos per row group blipdesk writes: what an import holds in memory at a time


class Refused(Exception):
    """Why a results file cannot be used (one line, without the file's name)."""


class Newer(Exception):
    """A results file of a newer format than this blipdesk reads (``args[0]``: the format)."""


# What a results file may hold. The footer (row counts, values per column, uncompressed bytes) is
# checked against these before any value is read, so a file of a few KiB that unpacks to
# gigabytes is refused unread; the values are checked again as they are read.
MAX_META_BYTES = 64 << 10  # the blipdesk.results metadata (a real one is ~300 bytes)
MAX_TEXT = 4096  # characters of a metadata text (score key, source, revision, writer)
MAX_GROUP_ROWS = 1 << 16  # photos per row group (blipdesk writes ROW_GROUP)
MAX_SENTENCES = 4096  # sentences per row
MAX_SENTENCE_CHARS = 16_384
MAX_ITC = 4096  # values per ITC vector before the model's size is known (BLIP's: 256)
MAX_GROUP_VALUES = ROW_GROUP * MAX_SENTENCES  # list values per column in one row group
MAX_GROUP_BYTES = 256 << 20  # uncompressed bytes of the columns read, per row group
MAX_ERROR_CHARS = 1000  # a decode error is kept this long (escaped: ``display_text``)
MAX_ERROR_BYTES = 4096  # a decode error's bytes in the file, on average per row
MAX_LOGIT = 1e4  # BLIP's ITM logits stay within about +-20
TOLERANCE = 1e-3  # float32 rounding: a cosine a hair past 1, a vector's norm, the softmax
SLICE_SCORES = 1 << 16  # score rows per chunk handed to the store

# The columns read and what each leaf must be: (Parquet physical type, list or not, cap per row).
LEAVES = {
    "content": ("BYTE_ARRAY", False, 1),
    "sentences": ("BYTE_ARRAY", True, MAX_SENTENCES),
    "itm": ("FLOAT", True, MAX_SENTENCES),
    "logit_no": ("FLOAT", True, MAX_SENTENCES),
    "logit_yes": ("FLOAT", True, MAX_SENTENCES),
    "cosine": ("FLOAT", True, MAX_SENTENCES),
    "itc": ("FLOAT", True, MAX_ITC),
    "error": ("BYTE_ARRAY", False, 1),
}
NUMBERS = ("itm", "logit_no", "logit_yes", "cosine")
_HEX = frozenset("0123456789abcdef")


@dataclass
class ItcSize:
    """The size every ITC vector of one import (or one resume) must have: the model's where it
    is known, else the first vector's (all vectors of one model are one size)."""

    size: int | None = None


def parse_header(raw: bytes, newest: int) -> tuple[int, str, str, str | None, int, str]:
    """The ``blipdesk.results`` metadata: (format, score key, source, revision, decoding rule,
    writer). Small, flat JSON, every field of its type, else ``Refused``; ``Newer`` for a
    format above ``newest``."""
    damaged = Refused("its blipdesk.results metadata is damaged")
    if len(raw) > MAX_META_BYTES:
        raise damaged
    try:  # NaN and Infinity are not JSON; nesting is refused below (a header is flat)
        doc = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise damaged from None
    if not isinstance(doc, dict):
        raise damaged
    version = doc.get("format")
    if type(version) is not int or version < 1:
        raise damaged
    if version > newest:
        raise Newer(version)
    score_key, source, revision = doc.get("score_key"), doc.get("source"), doc.get("revision")
    rule, writer = doc.get("decode_rule"), doc.get("written_by", "")
    strings = (score_key, source, writer) + (() if revision is None else (revision,))
    if not (
        all(isinstance(t, str) and len(t) <= MAX_TEXT for t in strings)
        and score_key
        and type(rule) is int
        and 0 <= rule <= 1 << 20
    ):
        raise damaged
    return (
        version, str(score_key), str(source), None if revision is None else str(revision), rule,
        str(writer),
    )  # fmt: skip


MAX_TAGS = 1000  # tags a results file may carry
MAX_TAG_SENTENCES = 100  # sentences per tag it carries


def parse_tags(raw: bytes) -> tuple[Tag, ...]:
    """The tags of the library that wrote the file (name, sentences, threshold), from the same
    metadata (``parse_header`` checked it is small, flat-enough JSON); none when it carries none
    (files written before blipdesk kept them). Each field of its type and range, else
    ``Refused``; a name or sentence the library itself would refuse is refused when added."""
    damaged = Refused("its blipdesk.results metadata is damaged (the tags)")
    try:
        doc = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise damaged from None
    tags = doc.get("tags", []) if isinstance(doc, dict) else None
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise damaged
    out = []
    for tag in tags:
        if not isinstance(tag, dict):
            raise damaged
        name, sentences, threshold = tag.get("name"), tag.get("sentences"), tag.get("threshold")
        if not (
            isinstance(name, str)
            and 0 < len(name) <= MAX_TEXT
            and isinstance(sentences, list)
            and len(sentences) <= MAX_TAG_SENTENCES
            and all(isinstance(s, str) and 0 < len(s) <= MAX_TEXT for s in sentences)
            and isinstance(threshold, int | float)
            and not isinstance(threshold, bool)
            and 0.0 <= threshold <= 1.0
        ):
            raise damaged
        out.append(Tag(name, tuple(sentences), float(threshold)))
    return tuple(out)


def texts(array: Any, limit: int | None, what: str) -> list[str | None]:
    """A dictionary-encoded text column as Python strings, each distinct value checked (and
    converted) once; lengths checked in Arrow before a long value becomes a Python string.
    ``limit`` None: a decode error, cut to ``MAX_ERROR_CHARS`` and escaped."""
    import pyarrow.compute as pc

    dictionary = array.dictionary
    indices = array.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    if len(indices) and int(indices.max()) >= len(dictionary):
        raise Refused(f"damaged (a {what} refers past its dictionary)")
    if limit is None:
        cut = pc.utf8_slice_codeunits(dictionary, 0, MAX_ERROR_CHARS + 1).to_pylist()
        values = [None if v is None else display_text(v, MAX_ERROR_CHARS) for v in cut]
        if "" in values:
            raise Refused(f"a {what} is empty")
    else:
        longest = pc.max(pc.utf8_length(dictionary)).as_py() if len(dictionary) else 0
        if longest is not None and longest > limit:
            raise Refused(f"a {what} is {longest} characters long (at most {limit})")
        values = dictionary.to_pylist()
        if what == "sentence":
            for v in values:
                if v is None or not v.strip() or "\0" in v:
                    raise Refused(f"a sentence is empty or not text ({display_text(repr(v), 80)})")
            if int(array.null_count):
                raise Refused("a sentence is empty or not text (null)")
    return [None if k < 0 else values[k] for k in indices.tolist()]


def content_hash(content: str | None) -> str:
    if not (content is not None and len(content) == 64 and set(content) <= _HEX):
        raise Refused(f"a content hash is damaged ({display_text(repr(content), 80)})")
    return content


def check_scores(
    flat: Mapping[str, np.ndarray], count: np.ndarray, contents: Sequence[str]
) -> None:
    """Every score finite and in its range: ITM a probability equal to the softmax of its
    logits, logits of sane size, cosines in [-1, 1] (float32 rounding allowed)."""
    itm, no, yes, cos = (flat[c] for c in NUMBERS)
    checks: list[tuple[np.ndarray, str]] = [
        (~np.isfinite(itm) | ~np.isfinite(no) | ~np.isfinite(yes) | ~np.isfinite(cos),
         "a score of {} is not a number"),
        ((itm < 0) | (itm > 1), "an ITM probability of {} is outside [0, 1]"),
        ((np.abs(no) > MAX_LOGIT) | (np.abs(yes) > MAX_LOGIT),
         f"an ITM logit of {{}} is beyond +-{MAX_LOGIT:g}"),
        (np.abs(cos) > 1 + TOLERANCE, "a cosine of {} is outside [-1, 1]"),
    ]  # fmt: skip
    with np.errstate(all="ignore"):
        softmax = 1 / (1 + np.exp(no.astype(np.float64) - yes))
        mismatch = np.abs(softmax - itm) > TOLERANCE
    checks.append((mismatch, "an ITM probability of {} does not match its logits"))
    for bad, message in checks:
        if bad.any():
            row = int(np.searchsorted(np.cumsum(count), int(np.argmax(bad)), side="right"))
            raise Refused(message.format(contents[row]))


def check_vectors(
    flat: np.ndarray,
    lengths: np.ndarray,
    valid: np.ndarray,
    contents: Sequence[str],
    itc: ItcSize,
) -> np.ndarray:
    """The group's ITC vectors as one (rows with a vector, size) matrix: each of the model's
    size (or, where that is unknown, of the first vector's), finite, of unit length."""
    sizes = lengths[valid]
    if not len(sizes):
        return np.zeros((0, itc.size or 0), np.float32)
    if itc.size is None:
        itc.size = int(sizes[0])
    wrong = np.flatnonzero(sizes != itc.size)
    if len(wrong) or not 0 < itc.size <= MAX_ITC:
        row = np.flatnonzero(valid)[wrong[0] if len(wrong) else 0]
        raise Refused(
            f"the image vector of {contents[row]} has {lengths[row]} values, "
            f"the model's have {itc.size}"
        )
    matrix = flat.reshape(len(sizes), itc.size)
    with np.errstate(all="ignore"):
        norms = np.sqrt(np.square(matrix, dtype=np.float64).sum(axis=1))
    bad = ~np.isfinite(matrix).all(axis=1) | ~(np.abs(norms - 1) <= TOLERANCE)
    if bad.any():
        row = np.flatnonzero(valid)[int(np.argmax(bad))]
        raise Refused(f"the image vector of {contents[row]} is damaged (not a unit vector)")
    return matrix


def byte_cap(name: str, rows: int, values: int) -> int:
    """The most uncompressed bytes a column chunk of ``rows`` photos and ``values`` values can
    hold when written honestly (a dictionary page of up to 1 MiB, plain values, levels): what a
    row group can unpack to, whatever its compression, before it is read."""
    if name == "content":
        return rows * 80 + (1 << 20)
    if name == "error":
        return rows * MAX_ERROR_BYTES + (1 << 20)
    if name == "sentences":
        return values * 8 + (32 << 20)
    return values * 5 + (1 << 20)  # float32 values


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")
