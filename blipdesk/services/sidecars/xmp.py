"""The XMP vocabulary blipdesk reads and writes: namespaces, the properties it edits (as
ElementTree's ``{namespace}local`` names), the limits on what it reads, and its errors."""

from __future__ import annotations

from blipdesk import __version__
from blipdesk.infra.errors import UserError

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
NS_DIGIKAM = "http://www.digikam.org/ns/1.0/"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_XMPDM = "http://ns.adobe.com/xmp/1.0/DynamicMedia/"
NS_XML = "http://www.w3.org/XML/1998/namespace"
# blipdesk's own record of the user keywords it mirrored into a hierarchical field, so removal
# takes back exactly what blipdesk added. An identifier, not a web address.
NS_BLIPDESK = "http://ns.blipdesk.app/xmp/1.0/"

XMPTK = f"blipdesk {__version__}"

_PREFERRED_PREFIXES = {
    NS_X: "x",
    NS_RDF: "rdf",
    NS_DC: "dc",
    NS_LR: "lr",
    NS_DIGIKAM: "digiKam",
    NS_XMP: "xmp",
    NS_XMPDM: "xmpDM",
    NS_XML: "xml",
    NS_BLIPDESK: "blipdesk",
}


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


RDF_DESCRIPTION = _q(NS_RDF, "Description")
RDF_RDF = _q(NS_RDF, "RDF")
RDF_LI = _q(NS_RDF, "li")
RDF_ABOUT = _q(NS_RDF, "about")
RDF_VALUE = _q(NS_RDF, "value")
RDF_CONTAINERS = {_q(NS_RDF, "Bag"), _q(NS_RDF, "Seq"), _q(NS_RDF, "Alt")}
X_XMPMETA = _q(NS_X, "xmpmeta")
X_XAPMETA = _q(NS_X, "xapmeta")
X_XMPTK = _q(NS_X, "xmptk")

SUBJECT = _q(NS_DC, "subject")
HIERARCHICAL = _q(NS_LR, "hierarchicalSubject")
TAGSLIST = _q(NS_DIGIKAM, "TagsList")
MIRRORED_HIERARCHICAL = _q(NS_BLIPDESK, "mirroredHierarchicalSubject")
MIRRORED_TAGSLIST = _q(NS_BLIPDESK, "mirroredTagsList")
ADDED_SUBJECT = _q(NS_BLIPDESK, "addedSubject")
RATING = _q(NS_XMP, "Rating")
PICK_LABEL = _q(NS_DIGIKAM, "PickLabel")
XMPDM_PICK = _q(NS_XMPDM, "pick")
XMPDM_GOOD = _q(NS_XMPDM, "good")
LABEL = _q(NS_XMP, "Label")  # Lightroom's colour label: its name ("Red")
COLOR_LABEL = _q(NS_DIGIKAM, "ColorLabel")  # digiKam's: a number (1 red ... 6 magenta)
_RECORD_OF = {HIERARCHICAL: MIRRORED_HIERARCHICAL, TAGSLIST: MIRRORED_TAGSLIST}
_CONTAINER_OF = {
    SUBJECT: "Bag",
    HIERARCHICAL: "Bag",
    TAGSLIST: "Seq",
    MIRRORED_HIERARCHICAL: "Bag",
    MIRRORED_TAGSLIST: "Bag",
    ADDED_SUBJECT: "Bag",
}

# A sidecar is a few kilobytes; darktable's with a long history some hundreds. Anything larger is
# not a sidecar (a symlink to /dev/zero, a renamed video) and is not read into memory.
MAX_SIDECAR_BYTES = 16 * 1024 * 1024
# XMP nests a handful of levels (xmpmeta, RDF, Description, property, container, li, struct...).
# A document nested deeper is refused before anything walks it recursively.
MAX_DEPTH = 64


class SidecarError(UserError):
    """A sidecar cannot be read or written (not XMP, unreadable, a tag XML cannot hold)."""


class SidecarChangedError(SidecarError):
    """The sidecar changed between planning and writing; plan again."""
