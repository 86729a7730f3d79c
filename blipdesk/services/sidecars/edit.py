"""Editing a parsed sidecar, not re-serializing it.

An edit replaces only the bytes of what blipdesk changes: an rdf:li added after the last one
(laid out like it), an rdf:li or a whole property removed together with the whitespace in front
of it, a new property appended to its rdf:Description. Each removal is the exact inverse of
the matching addition, so adding then removing gives back the original bytes; everything else
(comments, CDATA, quotes, line breaks inside tags, unused namespace declarations, the packet
wrapper, the last newline) is never re-serialized. New elements (:func:`_fragment`) declare the
namespaces they need that are not in scope on themselves, so no other tag is touched."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping

from blipdesk.services.sidecars.keywords import _Item, _Property, _State
from blipdesk.services.sidecars.read import _descriptions, _Doc, _rdf
from blipdesk.services.sidecars.xmp import (
    _CONTAINER_OF,
    _PREFERRED_PREFIXES,
    NS_BLIPDESK,
    NS_DC,
    NS_DIGIKAM,
    NS_LR,
    NS_RDF,
    NS_X,
    NS_XML,
    RDF_ABOUT,
    RDF_CONTAINERS,
    RDF_DESCRIPTION,
    RDF_LI,
    XMPTK,
    _q,
)

_NEW_DOCUMENT = f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="{NS_X}" x:xmptk="{XMPTK}">
 <rdf:RDF xmlns:rdf="{NS_RDF}">
  <rdf:Description rdf:about=""
    xmlns:dc="{NS_DC}"
    xmlns:lr="{NS_LR}"
    xmlns:digiKam="{NS_DIGIKAM}">
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

_SPACE = b" \t\r\n"


class _Editor:
    """Collects byte edits against a parsed document; :meth:`result` applies them."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc
        self.edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in call order
        self.gone: set[int] = set()  # ids of nodes removed
        self.gone_attributes: dict[int, set[str]] = {}  # id(description) -> attributes removed
        self.touched: list[ET.Element] = []  # descriptions that lost something
        self.filled: set[int] = set()  # ids of descriptions that gain a property
        self.new_description: list[ET.Element] = []  # properties for an rdf:Description to add

    # -- the operations

    def rewrite(self, state: _State, prop: _Property, wanted: list[_Item]) -> None:
        """Make ``prop`` hold ``wanted``: existing items (kept in their order) then new ones."""
        if self._edit_items(prop, wanted):
            return
        for desc in prop.attributes:
            self._remove_attribute(desc, prop.name)
        elements = list(prop.elements)
        if elements:
            desc, first = elements.pop(0)
            for d, el in elements:
                self._remove(d, el)
            if wanted:
                span = self.doc.span(first)
                fragment = _fragment(
                    _property(prop, wanted), self.doc.scopes[id(desc)], self._pad(desc)
                )
                self.edits.append((span.start, span.end, fragment))
            else:
                self._remove(desc, first)
        elif wanted:
            self._add_property(state, _property(prop, wanted))

    def _edit_items(self, prop: _Property, wanted: list[_Item]) -> bool:
        """Item by item in the one container ``prop`` has; False when ``prop`` has another shape
        (attribute form, several occurrences, no container) or the order changes."""
        if prop.attributes or len(prop.elements) != 1:
            return False
        desc, el = prop.elements[0]
        containers = [c for c in el if c.tag in RDF_CONTAINERS]
        if not containers or any(i.element is None for i in prop.items):
            return False
        kept = [i.element for i in wanted if i.element is not None]
        new = [i for i in wanted if i.element is None]
        existing = [i.element for i in prop.items]
        order = [e for e in existing if any(e is k for k in kept)]
        if order != kept or any(i.element is None for i in wanted[: len(kept)]):
            return False
        if not wanted:
            self._remove(desc, el)
            return True
        container = containers[0]
        if new and self.doc.span(container).open_end == self.doc.span(container).end:
            return False  # <rdf:Bag/>: written anew as a whole
        for item in existing:
            if item is not None and not any(item is k for k in kept):
                self._remove(container, item)
        if new:
            scope = self.doc.scopes[id(container)]
            after = self.doc.span(kept[-1]).end if kept else self.doc.span(container).open_end
            pad = self._pad(container, kept[-1] if kept else None)
            lis = "".join(_fragment(_li(i.value or ""), scope, pad) for i in new)
            self.edits.append((after, after, lis))
        return True

    def _add_property(self, state: _State, new: ET.Element) -> None:
        desc = _target_description(self.doc.root, state)
        if desc is None or self.doc.span(desc).open_end == self.doc.span(desc).end:
            self.new_description.append(new)  # no open rdf:Description to add it to
            return
        at = self._end_of_children(desc)
        self.edits.append((at, at, _fragment(new, self.doc.scopes[id(desc)], self._pad(desc))))
        self.filled.add(id(desc))

    def _remove(self, parent: ET.Element, node: ET.Element) -> None:
        """Remove ``node`` with the whitespace before it: the inverse of an addition."""
        span = self.doc.span(node)
        self.edits.append((self._space_before(span.start), span.end, ""))
        self.gone.add(id(node))
        if parent.tag == RDF_DESCRIPTION:
            self.touched.append(parent)

    def _attributes_named(
        self, desc: ET.Element, name: str
    ) -> Iterator[tuple[int, re.Match[bytes]]]:
        """Each occurrence of ``desc``'s attribute ``name`` ("{namespace}local") in its start
        tag as written: (the tag's offset in the buffer, the ``_ATTRIBUTE`` match in the tag)."""
        span, scope = self.doc.span(desc), self.doc.scopes[id(desc)]
        tag = self.doc.buf[span.start : span.open_end]
        for found in _ATTRIBUTE.finditer(tag):
            qname = found.group(2).decode("utf-8")
            prefix, _, local = qname.rpartition(":")
            if prefix and f"{{{scope.get(prefix)}}}{local}" == name:
                yield span.start, found

    def _remove_attribute(self, desc: ET.Element, name: str) -> None:
        for at, found in self._attributes_named(desc, name):
            self.edits.append((at + found.start(), at + found.end(), ""))
        self.gone_attributes.setdefault(id(desc), set()).add(name)
        self.touched.append(desc)

    def set_attribute(self, desc: ET.Element, name: str, value: str) -> None:
        """Replace the value of ``desc``'s attribute ``name`` in place (quotes kept)."""
        for at, found in self._attributes_named(desc, name):
            quote = found.group(3)[:1].decode("utf-8")
            start, end = at + found.start(3), at + found.end(3)
            self.edits.append((start, end, quote + _escape_attr(value) + quote))

    # -- layout

    def _space_before(self, at: int) -> int:
        while at > 0 and self.doc.buf[at - 1] in _SPACE:
            at -= 1
        return at

    def _end_of_children(self, el: ET.Element) -> int:
        children = list(el)
        return self.doc.span(children[-1]).end if children else self.doc.span(el).open_end

    def _pad(self, el: ET.Element, last: ET.Element | None = None) -> str:
        """The line break and indentation a new child of ``el`` gets: that of its last child, else
        one space deeper than its end tag; nothing in a document written on one line."""
        buf, span = self.doc.buf, self.doc.span(el)
        children = list(el)
        last = last if last is not None else (children[-1] if children else None)
        if last is not None:
            start = self.doc.span(last).start
            space = buf[self._space_before(start) : start].decode("utf-8")
            return "\n" + space.rsplit("\n", 1)[1] if "\n" in space else ""
        inner = buf[span.open_end : span.close_start].decode("utf-8")
        if "\n" in inner and not inner.strip():
            return "\n" + inner.rsplit("\n", 1)[1] + " "
        line = buf[: span.start].decode("utf-8").rsplit("\n", 1)
        indent = line[1] if len(line) == 2 and not line[1].strip() else ""
        return "\n" + indent + " " if len(line) == 2 else ""

    # -- the result

    def _emptied(self, desc: ET.Element) -> bool:
        """A description blipdesk added (it carries :data:`_MARK`) that its removals left with
        nothing but ``rdf:about``. Any other description stays, even empty: it may be the user's."""
        span = self.doc.span(desc)
        if _MARK.encode("utf-8") not in self.doc.buf[span.start : span.open_end]:
            return False
        if id(desc) in self.filled or any(id(c) not in self.gone for c in desc):
            return False
        left = set(desc.attrib) - self.gone_attributes.get(id(desc), set()) - {RDF_ABOUT}
        return not left and not (desc.text or "").strip()

    def result(self) -> bytes:
        edits = list(self.edits)
        for desc in dict.fromkeys(self.touched):
            if self._emptied(desc):
                span = self.doc.span(desc)
                lo = self._space_before(span.start)
                edits = [e for e in edits if not (lo <= e[0] and e[1] <= span.end)]
                edits.append((lo, span.end, ""))
        if self.new_description:
            edits.append(self._description_edit())
        out, at = [], 0
        for start, end, text in sorted(edits, key=lambda e: (e[0], e[1])):
            assert start >= at, "overlapping sidecar edits"
            out += [self.doc.buf[at:start], text.encode("utf-8")]
            at = end
        out.append(self.doc.buf[at:])
        return b"".join(out)

    def _description_edit(self) -> tuple[int, int, str]:
        rdf = _rdf(self.doc.root)
        assert rdf is not None
        desc = ET.Element(RDF_DESCRIPTION, {RDF_ABOUT: ""})
        desc.extend(self.new_description)
        span, scope = self.doc.span(rdf), self.doc.scopes[id(rdf)]
        pad = self._pad(rdf)
        if span.open_end != span.end:
            at = self._end_of_children(rdf)
            return at, at, _fragment(desc, scope, pad, mark=True)
        # <rdf:RDF .../>: opened, so that it can hold the description.
        tag = self.doc.buf[span.start : span.end].decode("utf-8")
        name = re.match(r"<([^\s/>]+)", tag).group(1)  # type: ignore[union-attr]
        closing = pad[:-1] if pad.endswith(" ") else pad
        text = (
            tag[:-2].rstrip()
            + ">"
            + _fragment(desc, scope, pad, mark=True)
            + closing
            + f"</{name}>"
        )
        return span.start, span.end, text


# Declared on an rdf:Description blipdesk adds (when no open one can take its properties), so
# that removal can tell it from a user's and take it back whole.
_MARK = f'xmlns:blipdesk="{NS_BLIPDESK}"'

_ATTRIBUTE = re.compile(rb"(\s+)([^\s=/>]+)\s*=\s*(\"[^\"]*\"|'[^']*')")


def _target_description(root: ET.Element, state: _State) -> ET.Element | None:
    for prop in (state.subjects, *state.hierarchies()):
        if prop.elements:
            return prop.elements[0][0]
        if prop.attributes:
            return prop.attributes[0]
    descs = _descriptions(root)
    return descs[0] if descs else None


def _li(value: str) -> ET.Element:
    li = ET.Element(RDF_LI)
    li.text = value
    return li


def _property(prop: _Property, wanted: list[_Item]) -> ET.Element:
    new = ET.Element(prop.name)
    container = ET.SubElement(new, prop.container or _q(NS_RDF, _CONTAINER_OF[prop.name]))
    for item in wanted:
        is_li = item.element is not None and item.element.tag == RDF_LI
        container.append(item.element if is_li else _li(item.value or ""))  # type: ignore[arg-type]
    return new


def _escape_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _escape_attr(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def _uris(el: ET.Element) -> list[str]:
    found: dict[str, None] = {}
    for node in el.iter():
        tag: object = node.tag  # typed str, but a function for comments and instructions
        if not isinstance(tag, str):
            continue
        for name in [tag, *node.attrib]:
            if name.startswith("{"):
                found[name[1:].split("}", 1)[0]] = None
    found.pop(NS_XML, None)
    return list(found)


def _fragment(el: ET.Element, scope: Mapping[str, str], pad: str, mark: bool = False) -> str:
    """``el`` as XML text to insert where ``scope`` is in force, after ``pad`` (a line break and
    indentation, or nothing). Prefixes in scope are used; namespaces that are not in scope are
    declared on ``el`` itself, with prefixes that shadow nothing in scope. ``mark``: declare
    blipdesk's namespace on ``el`` whatever is in scope (:data:`_MARK`)."""
    if mark:
        scope = {p: u for p, u in scope.items() if p != "blipdesk" and u != NS_BLIPDESK}
    prefix_of = {uri: prefix for prefix, uri in scope.items() if prefix}
    prefix_of[NS_XML] = "xml"
    declare: list[tuple[str, str]] = []
    taken = set(scope)
    for uri in [NS_BLIPDESK] * mark + _uris(el):
        if uri not in prefix_of:
            prefix, n = _PREFERRED_PREFIXES.get(uri, "ns0"), 0
            while prefix in taken:
                prefix, n = f"ns{n}", n + 1
            taken.add(prefix)
            prefix_of[uri] = prefix
            declare.append((prefix, uri))

    def qname(name: str) -> str:
        if not name.startswith("{"):
            return name
        uri, local = name[1:].split("}", 1)
        return f"{prefix_of[uri]}:{local}"

    out: list[str] = []

    def write(node: ET.Element, indent: str, top: bool) -> None:
        out.append(indent)
        tag: object = node.tag  # typed str, but a function for comments and instructions
        if tag is ET.Comment:
            out.append(f"<!--{node.text or ''}-->")
            return
        if tag is ET.ProcessingInstruction:
            out.append(f"<?{node.text or ''}?>")
            return
        parts = [qname(str(tag))]
        if top:
            parts += [f'xmlns:{p}="{_escape_attr(u)}"' for p, u in declare]
        parts += [f'{qname(k)}="{_escape_attr(v)}"' for k, v in node.attrib.items()]
        children = list(node)
        text = node.text or ""
        if not children and not text:
            out.append("<" + " ".join(parts) + "/>")
            return
        out.append("<" + " ".join(parts) + ">")
        if children:
            if text.strip():
                out.append(_escape_text(text))
            inner = indent + " " if indent else ""
            for child in children:
                write(child, inner, False)
                if (child.tail or "").strip():
                    out.append(_escape_text(child.tail or ""))
            out.append(indent)
        else:
            out.append(_escape_text(text))
        out.append(f"</{parts[0]}>")

    write(el, pad, True)
    return "".join(out)
