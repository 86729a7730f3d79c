"""Reading a sidecar: its bytes (a regular file of bounded size only, never a FIFO or a device),
its text (UTF-8, or UTF-16/32 with a byte order mark, as the XMP specification allows), and its
parse: an element tree that remembers where each node lies in the bytes, so an edit
(:mod:`.edit`) replaces only what it changes."""

from __future__ import annotations

import errno
import os
import re
import stat
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from blipdesk.infra.display import display_path
from blipdesk.services.sidecars.xmp import (
    MAX_DEPTH,
    MAX_SIDECAR_BYTES,
    NS_XML,
    RDF_DESCRIPTION,
    RDF_RDF,
    X_XAPMETA,
    X_XMPMETA,
    SidecarError,
)


@dataclass(frozen=True)
class _File:
    data: bytes
    mode: int  # st_mode of the regular file read


def _read_file(path: Path, link: Path | None = None) -> _File | None:
    """The bytes of the sidecar at ``path`` (``None``: there is none). Only a regular file of at
    most :data:`MAX_SIDECAR_BYTES` is read: it is opened non-blocking, so a FIFO never blocks, and
    checked with ``fstat`` before a byte is read, so a device (``/dev/zero``) is never read.
    ``link``: the symlinked sidecar that leads to ``path``, named in messages."""
    shown = (
        display_path(path)
        if link is None
        else f"{display_path(link)} (a link to {display_path(path)})"
    )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SidecarError(f"{shown}: {_os_reason(exc, 'cannot be read')}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SidecarError(
                f"{shown}: not a regular file (a pipe, socket or device); left alone"
            )
        if st.st_size > MAX_SIDECAR_BYTES:
            raise SidecarError(f"{shown}: {_too_large()}")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_SIDECAR_BYTES:  # it grew while being read
                raise SidecarError(f"{shown}: {_too_large()}")
        return _File(b"".join(chunks), st.st_mode)
    except OSError as exc:
        raise SidecarError(f"{shown}: {_os_reason(exc, 'cannot be read')}") from None
    finally:
        os.close(fd)


def _too_large() -> str:
    return (
        f"larger than {MAX_SIDECAR_BYTES // (1024 * 1024)} MiB, too large for a sidecar; left alone"
    )


def _os_reason(exc: OSError, what: str) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return f"{what}: the name is too long for the file system"
    return f"{what} ({exc.strerror or exc})"


def _write_target(path: Path) -> Path:
    """Where the sidecar's bytes live: ``path``, or the file a symbolic link ``path`` leads to.
    A symlinked sidecar is written through (its target is replaced, in the target's folder), so
    the link stays a link (README, "Reliability")."""
    if not os.path.islink(path):
        return path
    target = Path(os.path.realpath(path))
    if os.path.islink(target) or not os.path.lexists(target):
        raise SidecarError(
            f"{display_path(path)}: a symbolic link to a file that is not there; left alone"
        )
    return target


# Byte order marks, longest first (UTF-32-LE's begins like UTF-16-LE's).
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xef\xbb\xbf", "utf-8"),
)


def _decode(data: bytes, where: Path) -> tuple[str, bytes, str]:
    """(text, byte order mark, codec) of a sidecar, so edited text is written back the same way.
    UTF-8 without a mark, else whatever its mark says (XMP packets may be UTF-16 or UTF-32)."""
    bom, codec = next(((b, c) for b, c in _BOMS if data.startswith(b)), (b"", "utf-8"))
    try:
        return data[len(bom) :].decode(codec), bom, codec
    except UnicodeDecodeError as exc:
        raise SidecarError(
            f"{display_path(where)}: not a readable XMP file ({exc.reason})"
        ) from None


@dataclass(frozen=True)
class _Span:
    """Where one node is in the document's UTF-8 bytes: ``start`` is its ``<``; the start tag ends
    at ``open_end``; the end tag begins at ``close_start`` (both ``end`` for ``<a/>``)."""

    start: int
    open_end: int
    close_start: int
    end: int


@dataclass
class _Doc:
    """A parsed sidecar: the element tree for reading, and where each node came from, so that an
    edit replaces only the bytes of what it changes."""

    root: ET.Element
    buf: bytes  # the text as UTF-8; offsets refer to it
    spans: dict[int, _Span]  # id(node) -> its span
    scopes: dict[int, Mapping[str, str]]  # id(element) -> namespace prefixes in scope inside it
    bom: bytes = b""
    codec: str = "utf-8"

    def span(self, node: ET.Element) -> _Span:
        return self.spans[id(node)]

    def encode(self, buf: bytes) -> bytes:
        if self.codec == "utf-8":
            return self.bom + buf
        return self.bom + buf.decode("utf-8").encode(self.codec)


_START_TAG = re.compile(rb"<[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>")


def _parse(data: bytes, where: Path) -> _Doc:
    text, bom, codec = _decode(data, where)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise SidecarError(
            f"{display_path(where)}: has a document type declaration; XMP files never do"
        )
    buf = text.encode("utf-8")
    builder = ET.TreeBuilder(insert_comments=True, insert_pis=True)
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    spans: dict[int, _Span] = {}
    scopes: dict[int, Mapping[str, str]] = {}
    stack: list[tuple[ET.Element, int, int, Mapping[str, str]]] = []
    pending: dict[str, str] = {}

    def clark(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise SidecarError(
                f"{display_path(where)}: nested more than {MAX_DEPTH} elements deep; "
                "not a sidecar blipdesk can edit"
            )
        el = builder.start(clark(name), {clark(k): v for k, v in attrs.items()})
        at = parser.CurrentByteIndex
        tag = _START_TAG.match(buf, at)
        assert tag is not None
        outer = stack[-1][3] if stack else {"xml": NS_XML}
        scope = {**outer, **pending} if pending else outer
        pending.clear()
        scopes[id(el)] = scope
        stack.append((el, at, tag.end(), scope))

    def end(name: str) -> None:
        el, at, open_end, _scope = stack.pop()
        builder.end(clark(name))
        if buf[open_end - 2 : open_end] == b"/>":
            spans[id(el)] = _Span(at, open_end, open_end, open_end)
        else:
            close = parser.CurrentByteIndex
            spans[id(el)] = _Span(at, open_end, close, buf.index(b">", close) + 1)

    def node(made: ET.Element | None, terminator: bytes) -> None:
        if made is not None and stack:
            at = parser.CurrentByteIndex
            stop = buf.index(terminator, at) + len(terminator)
            spans[id(made)] = _Span(at, stop, stop, stop)

    def refuse(*_args: object) -> None:
        raise SidecarError(
            f"{display_path(where)}: has a document type declaration; XMP files never do"
        )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = lambda t: node(builder.comment(t), b"-->")
    parser.ProcessingInstructionHandler = lambda t, d: node(builder.pi(t, d), b"?>")
    parser.StartNamespaceDeclHandler = lambda p, u: pending.__setitem__(p or "", u)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(text, True)
        root = builder.close()
    except xml.parsers.expat.ExpatError as exc:
        raise SidecarError(f"{display_path(where)}: not a readable XMP file ({exc})") from None
    if root.tag not in (X_XMPMETA, X_XAPMETA, RDF_RDF) or _rdf(root) is None:
        raise SidecarError(f"{display_path(where)}: not an XMP file (no x:xmpmeta/rdf:RDF)")
    return _Doc(root, buf, spans, scopes, bom, codec)


def _rdf(root: ET.Element) -> ET.Element | None:
    if root.tag == RDF_RDF:
        return root
    return root.find(RDF_RDF)


def _descriptions(root: ET.Element) -> list[ET.Element]:
    rdf = _rdf(root)
    return [] if rdf is None else [d for d in rdf if d.tag == RDF_DESCRIPTION]
