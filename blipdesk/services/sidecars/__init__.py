"""Matched tags written to XMP sidecars that digiKam, darktable, Lightroom and exiftool read.

blipdesk never writes a photo. It writes (or merges into) a sidecar next to it, with the tags in
the three keyword fields those programs read, kept consistent with each other:

* ``dc:subject`` (rdf:Bag): the tag names, flat. Lightroom and exiftool read it; darktable and
  digiKam read it only when no hierarchical field exists.
* ``lr:hierarchicalSubject`` (rdf:Bag): ``blipdesk|<tag>``. darktable reads this in preference to
  ``dc:subject`` (``dt_exif_read_xmp_data``), Lightroom for its keyword tree.
* ``digiKam:TagsList`` (rdf:Seq): ``blipdesk/<tag>``. digiKam reads it first of all its fields.

Naming: ``photo.jpg.xmp`` (:attr:`SidecarNaming.APPEND`, the default of darktable and digiKam) or
``photo.xmp`` (:attr:`SidecarNaming.REPLACE`, Lightroom and Capture One, meant for raw files;
photos that share a base name share that sidecar, so :func:`plan_sidecars` unions their tags).

Merge, never clobber
--------------------
An existing sidecar keeps every other property, every other rdf:Description, comments, the
``<?xpacket?>`` wrapper when it had one, and every keyword that is not blipdesk's. Which keywords
are blipdesk's is read from the sidecar itself, so no database is needed and a sidecar edited in
another program stays correct:

* every ``lr:hierarchicalSubject`` entry that starts with ``blipdesk|`` and every
  ``digiKam:TagsList`` entry that starts with ``blipdesk/`` is blipdesk's (the top-level keyword
  ``blipdesk`` belongs to blipdesk);
* a ``dc:subject`` keyword is blipdesk's only if it is the leaf of such a blipdesk entry *and* it
  is not a component (leaf or parent) of any other hierarchical entry in either field. A user's
  top-level keyword that a program also lists in a hierarchical field (a flat entry ``dog``) is
  therefore the user's, and so is ``dog`` when the user has ``Animals|dog`` or ``dog|puppy``;
* the keyword ``blipdesk`` itself in ``dc:subject`` (programs that copy parents into
  ``dc:subject``, such as Lightroom, add it) is blipdesk's when blipdesk entries exist and no
  other hierarchy names it.

Edge cases, and how the writer keeps the rule true:

* A user keyword that is only in ``dc:subject`` (no hierarchy names it) and has the same name as a
  tag blipdesk adds would look like blipdesk's afterwards. The writer *pins* it first: it adds the
  flat entry (``dog``, the form a top-level keyword takes there) to the hierarchical fields, so
  removal keeps it.
* When blipdesk creates ``lr:hierarchicalSubject`` or ``digiKam:TagsList`` in a sidecar whose
  keywords were only in ``dc:subject`` (or only in the other hierarchy), darktable and digiKam
  would stop reading the user's keywords (they prefer the hierarchical field). The writer seeds a
  created field with the user's keywords (the other hierarchy's entries, else flat names).
  Pinned and seeded entries are listed in :attr:`SidecarPlan.mirrored` (for a preview) and
  recorded in the sidecar (``blipdesk:mirroredHierarchicalSubject``, ``blipdesk:mirroredTagsList``,
  a namespace other programs keep untouched), so :func:`plan_removal` takes back exactly those
  entries. (If the user meanwhile made one of them a keyword of their own in darktable or
  digiKam, removal still takes the hierarchical copy back; ``dc:subject`` keeps the keyword.)
* A tag named like a level of one of the user's hierarchies (``Places`` when the user has
  ``Places|Paris``) but absent from ``dc:subject`` would pass for the user's once added. Such
  additions are recorded (``blipdesk:addedSubject``) and count as blipdesk's.
* Tags whose hierarchical entry was deleted in another program (only ``dc:subject`` ``dog``
  remains) are the user's from then on: blipdesk no longer claims them.
* ``|`` and ``/`` separate hierarchy levels and have no escape in either format. ``dc:subject``
  holds the exact tag name; in ``lr:hierarchicalSubject`` a ``|`` inside a name is written as
  ``¦`` (U+00A6) and in ``digiKam:TagsList`` a ``/`` is written as ``∕`` (U+2215), so a tag
  stays one level deep under ``blipdesk``.
* Names are written as XML text: ``& < > " '``, non-ASCII, right-to-left text and long names
  round-trip. Characters XML 1.0 cannot carry (:func:`xmp_text_problem`: most C0 controls, lone
  surrogates, U+FFFE/U+FFFF) are refused with a :class:`SidecarError`; the store refuses such
  tag names in the first place (the rule is ``blipdesk.domain.names``, which both follow). Surrounding whitespace is stripped; empty names are skipped. A
  name that folds onto an earlier name's entry (``a¦b`` after ``a|b``) is written once, with a
  note in :attr:`SidecarPlan.notes` (the store refuses such names too: :func:`sidecar_clash`).

Editing, not re-serializing
---------------------------
A sidecar is parsed with expat, keeping where each node lies; a plan replaces only the bytes of
blipdesk's own items (see :mod:`.edit`). Adding then removing blipdesk's
tags gives back the original bytes; comments, CDATA, quotes and line breaks inside tags, unused
namespace declarations, the packet wrapper and the last newline are never rewritten.

Safety
------
Sidecars are written by blipdesk's one atomic writer (``blipdesk.infra.atomic.write_atomic``: a
temporary file ``.blipdesk-tmp-<host>-<pid>-<random>.tmp`` in the same folder, fsync,
``os.replace``, the file's mode kept) and only if the sidecar is still exactly what was read when
the plan was made, checked again just before the replace; otherwise :class:`SidecarChangedError`.
A window of a few microseconds between that check and the replace remains (no portable
compare-and-swap on files). Temporaries are removed on any exception (the CLI turns SIGTERM and
SIGHUP into a stop between sidecars); those a killed process left are removed
(``infra.atomic.remove_stale_temporaries``) from the folders a run writes, before it writes.
Only regular files of at most 16 MiB are read (opened non-blocking, checked with ``fstat``:
a FIFO or ``/dev/zero`` is refused, never read); documents nested more than 64 levels, and any
document type declaration (entity expansion, external entities; XMP never has one), are
refused. A read-only sidecar (no write bit for its owner) is left alone; a symlinked one is
written through to its target, which stays where it is. A sidecar blipdesk created
(``x:xmptk="blipdesk ..."``) that holds nothing else after removal is deleted. Photos are never
opened, let alone written. Every planning function reports a bad sidecar as that item's
:class:`SidecarError` (:func:`per_item`), so one bad file never stops a run.

The package: :mod:`.xmp` (the vocabulary and the errors), :mod:`.names` (which sidecar, which
entries), :mod:`.read` (bytes, text, the parse with byte spans), :mod:`.keywords` (the keyword
fields and whose they are), :mod:`.edit` (byte edits and new elements), :mod:`.plan` (plans and
per-item errors), :mod:`.tags`, :mod:`.ratings` and :mod:`.user_keywords` (a person's own
keywords, issue 26) (what to plan), :mod:`.write` (carrying plans
out). Callers use only what this module exports.
"""

from __future__ import annotations

from blipdesk.domain.names import sidecar_clash, sidecar_entries, xmp_text_problem
from blipdesk.services.sidecars.names import SidecarNaming, normalize_tags, sidecar_path
from blipdesk.services.sidecars.plan import SidecarPlan, describe, per_item
from blipdesk.services.sidecars.ratings import (
    SidecarRating,
    plan_rating,
    plan_ratings,
    read_sidecar_rating,
)
from blipdesk.services.sidecars.tags import (
    SidecarKeywords,
    plan_removal,
    plan_removal_under,
    plan_sidecar,
    plan_sidecar_file,
    plan_sidecars,
    read_packet,
    read_sidecar,
    sidecars_under,
)
from blipdesk.services.sidecars.user_keywords import plan_keywords
from blipdesk.services.sidecars.write import SidecarRun, apply, apply_plans, remove_tags, write_tags
from blipdesk.services.sidecars.xmp import (
    MAX_DEPTH,
    MAX_SIDECAR_BYTES,
    NS_BLIPDESK,
    NS_DC,
    NS_DIGIKAM,
    NS_LR,
    NS_RDF,
    NS_XMP,
    NS_XMPDM,
    SidecarChangedError,
    SidecarError,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_SIDECAR_BYTES",
    "NS_BLIPDESK",
    "NS_DC",
    "NS_DIGIKAM",
    "NS_LR",
    "NS_RDF",
    "NS_XMP",
    "NS_XMPDM",
    "SidecarChangedError",
    "SidecarError",
    "SidecarKeywords",
    "SidecarNaming",
    "SidecarPlan",
    "SidecarRating",
    "SidecarRun",
    "apply",
    "apply_plans",
    "describe",
    "normalize_tags",
    "per_item",
    "plan_keywords",
    "plan_rating",
    "plan_ratings",
    "plan_removal",
    "plan_removal_under",
    "plan_sidecar",
    "plan_sidecar_file",
    "plan_sidecars",
    "read_packet",
    "read_sidecar",
    "read_sidecar_rating",
    "remove_tags",
    "sidecar_clash",
    "sidecar_entries",
    "sidecar_path",
    "sidecars_under",
    "write_tags",
    "xmp_text_problem",
]
