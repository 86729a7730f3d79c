"""A person's own keywords (issue 26): the names, the store, reading them from sidecars and from
the photos themselves, and learning each one from the photos that carry it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import subprocess

import numpy as np
import pytest
from PIL import Image

from blipdesk.core.embedded import read_embedded
from blipdesk.core.keywords import KeywordData, carried, learn, probabilities
from blipdesk.domain.keywords import KeywordError, keyword, keywords_of
from blipdesk.services.keywords import import_keywords, read_photo_keywords
from blipdesk.store import SCHEMA_VERSION, Library

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")

SIDECAR = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:digiKam="http://www.digikam.org/ns/1.0/">
<dc:subject><rdf:Bag>{subjects}</rdf:Bag></dc:subject>
<lr:hierarchicalSubject><rdf:Bag>{hierarchical}</rdf:Bag></lr:hierarchicalSubject>
<digiKam:TagsList><rdf:Seq>{tags_list}</rdf:Seq></digiKam:TagsList>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


def sidecar(subjects=(), hierarchical=(), tags_list=()) -> str:
    def li(values):
        return "".join(f"<rdf:li>{v}</rdf:li>" for v in values)

    return SIDECAR.format(
        subjects=li(subjects), hierarchical=li(hierarchical), tags_list=li(tags_list)
    )


def jpeg(path, colour=(200, 30, 30)):
    Image.new("RGB", (32, 24), colour).save(path, quality=90)
    return path


# --- names ----------------------------------------------------------------------------------


def test_a_keyword_is_spelt_one_way_and_refused_with_a_reason():
    assert keyword(" Places | Portugal |Lisbon ") == "Places|Portugal|Lisbon"
    assert keyword("Family/Anna", "/") == "Family|Anna"
    assert keyword("Café") == keyword("Cafe\u0301")  # one Unicode form
    for bad in ("", "  ", "Places||Lisbon", "|Lisbon", "Places|", "tab\there", "bell\x07"):
        with pytest.raises(KeywordError):
            keyword(bad)
    with pytest.raises(KeywordError):
        keyword("a|b/c", "/")  # a digiKam level holding the one spelling's separator


def test_a_photos_keywords_from_the_three_fields():
    names, refused = keywords_of(
        subjects=["Lisbon", "Sunset", "Anna", "dog", "blipdesk"],
        hierarchical=["Places|Portugal|Lisbon", "Places", "blipdesk|dog"],
        tags_list=["Family/Anna", "Places/Portugal/Lisbon", "blipdesk/dog", "bad//entry"],
    )
    # the hierarchies say the most; a level above another entry is implied by it; a flat subject
    # no hierarchy names is a keyword of its own; blipdesk's own entries are not the person's
    assert names == ("Places|Portugal|Lisbon", "Family|Anna", "Sunset", "dog")
    assert refused == ("bad//entry",)


# --- the store ------------------------------------------------------------------------------


def test_keywords_are_kept_by_content_and_counted(tmp_path):
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        assert lib.add_keyword("Places|Lisbon", ["c1", "c2"]) == 2
        assert lib.add_keyword("Places|Lisbon", ["c2", "c3"]) == 1
        lib.add_keyword("Sunset", ["c1"])
        assert lib.keyword_counts() == {"Places|Lisbon": 3, "Sunset": 1}
        assert lib.photo_keywords(["c1"]) == {"c1": {"Places|Lisbon", "Sunset"}}
        assert lib.remove_keyword("Sunset", ["c1", "c9"]) == 1
        assert lib.remove_keyword("Nothing", ["c1"]) == 0
        assert lib.keyword_counts() == {"Places|Lisbon": 3}  # an unused keyword is forgotten


def test_a_reimport_replaces_imported_keywords_and_keeps_typed_ones(tmp_path):
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.replace_imported({"c1": ["A", "B"], "c2": ["A"]})
        lib.add_keyword("Typed", ["c1"])
        lib.add_keyword("B", ["c1"])  # typed over an imported one: it stays from now on
        added, dropped = lib.replace_imported({"c1": ["C"], "c2": ["A"]})
        assert (added, dropped) == (1, 1)  # C new; A gone from c1 (B and Typed are typed)
        assert lib.photo_keywords() == {"c1": {"B", "C", "Typed"}, "c2": {"A"}}


def test_a_rejection_is_remembered_and_taken_back_by_adding(tmp_path):
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.add_keyword("A", ["c1"])
        lib.reject_keyword("A", ["c2"])
        assert lib.keyword_rejections() == {"A": {"c2"}}
        lib.add_keyword("A", ["c2"])
        assert lib.keyword_rejections() == {}


def test_a_version_7_library_gains_keyword_tables(tmp_path):
    db = tmp_path / "lib.sqlite3"
    with Library.open(db) as lib:
        lib.add_keyword("A", ["c1"])
    conn = sqlite3.connect(db)
    for table in ("keyword_rejections", "photo_keywords", "keywords"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version=7")  # the step before the keywords' (schema.py)
    conn.commit()
    conn.close()
    with Library.open(db) as lib:
        assert lib.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert lib.add_keyword("A", ["c1"]) == 1


# --- reading them ---------------------------------------------------------------------------


def test_both_sidecar_namings_are_read_and_blipdesks_entries_are_not_keywords(tmp_path):
    photo = jpeg(tmp_path / "IMG_1.jpg")
    (tmp_path / "IMG_1.jpg.xmp").write_text(
        sidecar(["Lisbon", "dog"], ["Places|Lisbon", "blipdesk|dog"], ["blipdesk/dog"])
    )
    (tmp_path / "IMG_1.xmp").write_text(sidecar(tags_list=["Family/Anna"]))
    found = read_photo_keywords(str(photo))
    assert found.keywords == ("Places|Lisbon", "Family|Anna")
    assert found.problems == ()


def test_a_bad_sidecar_is_that_photos_problem(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    (tmp_path / "a.jpg.xmp").write_text('<!DOCTYPE x [<!ENTITY a "b">]><x/>')
    (tmp_path / "a.xmp").write_text(sidecar(["Sunset"]))
    found = read_photo_keywords(str(photo))
    assert found.keywords == ("Sunset",)
    assert len(found.problems) == 1 and "a.jpg.xmp" in found.problems[0]


@needs_exiftool
@pytest.mark.parametrize("suffix", [".jpg", ".tif", ".png"])
def test_xmp_embedded_in_the_photo_is_read(tmp_path, suffix):
    photo = tmp_path / f"p{suffix}"
    Image.new("RGB", (16, 16), (10, 200, 10)).save(photo)
    subprocess.run(
        [EXIFTOOL, "-q", "-overwrite_original", "-XMP-lr:HierarchicalSubject=Places|Porto",
         "-XMP-dc:Subject=Porto", "-XMP-dc:Subject=Sunset", str(photo)],
        check=True,
    )  # fmt: skip
    assert read_embedded(photo).xmp is not None
    assert read_photo_keywords(str(photo)).keywords == ("Places|Porto", "Sunset")


@needs_exiftool
def test_iptc_keywords_in_a_jpeg_are_read(tmp_path):
    photo = jpeg(tmp_path / "iptc.jpg")
    subprocess.run(
        [EXIFTOOL, "-q", "-overwrite_original", "-charset", "iptc=UTF8", "-IPTC:Keywords=Lisboa",
         "-IPTC:Keywords=Família", str(photo)],
        check=True,
    )  # fmt: skip
    assert read_embedded(photo).iptc_keywords == ("Lisboa", "Família")
    assert read_photo_keywords(str(photo)).keywords == ("Lisboa", "Família")


def test_hostile_photos_yield_no_keywords_and_no_crash(tmp_path):
    cases = {
        "truncated.jpg": b"\xff\xd8\xff\xe1\xff\xff" + b"http://ns.adobe.com/xap/1.0/\x00<x:xm",
        "loop.jpg": b"\xff\xd8" + b"\xff\xed\x00\x02" * 1000,
        "iptc.jpg": b"\xff\xd8\xff\xed\x00\x30Photoshop 3.0\x008BIM\x04\x04\x00\x00\xff\xff\xff\xff"
        + b"\x00" * 16,
        "tiff.tif": b"II*\x00"
        + struct.pack("<I", 8)
        + struct.pack("<H", 1)
        + struct.pack("<HHII", 700, 7, 1 << 30, 4),
        "png.png": b"\x89PNG\r\n\x1a\n" + struct.pack(">I4s", 1 << 31, b"iTXt"),
        "bomb.png": b"\x89PNG\r\n\x1a\n",
        "heic.heic": b"\x00\x00\x00\x18ftypheic" + b"<x:xmpmeta never closed",
    }
    import zlib

    bomb = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(b" " * (40 << 20))
    cases["bomb.png"] += struct.pack(">I4s", len(bomb), b"iTXt") + bomb + b"\0\0\0\0"
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        found = read_embedded(tmp_path / name)
        assert found.xmp is None and found.iptc_keywords == (), name
        assert read_photo_keywords(str(tmp_path / name)).keywords == ()
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        read_embedded(fifo)  # never blocks on it
    assert read_photo_keywords(str(fifo)).problems


def test_an_import_reads_per_photo_and_a_reimport_picks_up_changes(tmp_path):
    a, b = jpeg(tmp_path / "a.jpg"), jpeg(tmp_path / "b.jpg", (1, 2, 3))
    (tmp_path / "a.jpg.xmp").write_text(sidecar(["Lisbon"], ["Places|Lisbon"]))
    (tmp_path / "b.xmp").write_text(sidecar(["Sunset", "Anna"], tags_list=["Family/Anna"]))
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        report = import_keywords(lib, [(str(a), "ca"), (str(b), "cb")])
        assert (report.photos, report.keyworded, report.keywords) == (2, 2, 3)
        assert lib.photo_keywords() == {"ca": {"Places|Lisbon"}, "cb": {"Family|Anna", "Sunset"}}
        (tmp_path / "b.xmp").write_text(sidecar(["Anna"], tags_list=["Family/Anna"]))
        report = import_keywords(lib, [(str(a), "ca"), (str(b), "cb")])
        assert (report.added, report.dropped) == (0, 1)
        assert lib.photo_keywords()["cb"] == {"Family|Anna"}


# --- learning -------------------------------------------------------------------------------


def _library(n=300, seed=0, dim=16):
    """Photos whose vectors lean one way when they show the thing: a keyword over them."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.3
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    f = rng.normal(size=(n, dim)) + 4.0 * np.outer(truth, direction)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    contents = tuple(f"c{i}" for i in range(n))
    return contents, f.astype(np.float32), truth


@pytest.mark.parametrize("examples", [5, 20])
def test_a_keyword_is_learnt_from_its_examples_and_estimated_held_out(examples):
    contents, f, truth = _library()
    data = KeywordData(contents, f, {})
    yes = [c for c, t in zip(contents, truth, strict=True) if t][:examples]
    no = [c for c, t in zip(contents, truth, strict=True) if not t][: examples * 3]
    keywords = {**{c: {"Things|Thing"} for c in yes}, **{c: {"Other"} for c in no}}
    learnt = learn("Things|Thing", data, carried(keywords))
    assert learnt.examples == examples and learnt.counter_examples == 3 * examples
    p = probabilities(learnt, data)
    unseen = np.array([c not in keywords for c in contents])
    chosen = (p >= learnt.cut) & unseen
    precision = (chosen & truth).sum() / max(chosen.sum(), 1)
    recall = (chosen & truth).sum() / (truth & unseen).sum()
    assert precision >= (0.85 if examples >= 20 else 0.7) and recall >= 0.6
    assert learnt.estimated_precision is not None and learnt.estimated_recall is not None
    assert learnt.rough is (examples < 8)
    # the parent level learns from the same photos; an unrelated keyword has no say
    assert learn("Things", data, carried(keywords)).examples == examples


def test_a_keyword_with_too_few_photos_or_no_counter_examples_is_not_learnt():
    contents, f, _truth = _library()
    data = KeywordData(contents, f, {})
    few = {c: {"A"} for c in contents[:4]} | {c: {"B"} for c in contents[4:20]}
    assert learn("A", data, few).calibration is None
    everyone = {c: {"A"} for c in contents[:50]}
    assert learn("A", data, everyone).calibration is None  # no counter-example says anything


def test_the_keywords_words_help_where_its_examples_are_few():
    contents, f, truth = _library(seed=3)
    rng = np.random.default_rng(1)
    noise = rng.normal(size=f.shape).astype(np.float32)  # vectors that say nothing
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    x = np.where(truth, 2.0, -2.0) + rng.normal(0, 0.7, len(truth))  # words that do
    yes = [c for c, t in zip(contents, truth, strict=True) if t][:6]
    no = [c for c, t in zip(contents, truth, strict=True) if not t][:18]
    keywords = {**{c: {"Sunset"} for c in yes}, **{c: {"Other"} for c in no}}
    with_words = learn("Sunset", KeywordData(contents, noise, {"Sunset": x}), keywords)
    without = learn("Sunset", KeywordData(contents, noise, {}), keywords)
    assert (with_words.estimated_recall or 0) > (without.estimated_recall or 0)


def test_a_rejected_suggestion_is_a_counter_example():
    contents, f, _truth = _library()
    data = KeywordData(contents, f, {})
    keywords = {c: {"A"} for c in contents[:10]} | {c: {"B"} for c in contents[10:20]}
    before = learn("A", data, keywords)
    after = learn("A", data, keywords, rejected={contents[30], contents[31]})
    assert after.counter_examples == before.counter_examples + 2


# --- writing them ---------------------------------------------------------------------------


def _exiv2_keywords(path) -> dict[str, list[str]]:
    out = subprocess.run(
        [shutil.which("exiv2"), "-P", "kv", "pr", str(path)], capture_output=True, text=True
    ).stdout
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        if key in ("Xmp.dc.subject", "Xmp.lr.hierarchicalSubject", "Xmp.digiKam.TagsList"):
            found[key] = [v.strip() for v in value.strip().split(",")]
    return found


@needs_exiftool
@pytest.mark.skipif(shutil.which("exiv2") is None, reason="exiv2 is not installed")
def test_a_keyword_is_written_under_the_persons_own_hierarchy_and_read_back(tmp_path):
    from blipdesk.services.sidecars import apply, plan_keywords
    from tests.unit.test_sidecars import keywords as exiftool_keywords

    photo = jpeg(tmp_path / "a.jpg")
    before = photo.read_bytes()
    plan = plan_keywords(photo, ["Places|Portugal|Lisbon", "Sunset"])
    assert plan.added == ("Places|Portugal|Lisbon", "Sunset") and plan.creates_file
    apply(plan)
    sidecar_file = tmp_path / "a.jpg.xmp"
    assert exiftool_keywords(sidecar_file) == (
        ["Lisbon", "Sunset"],
        ["Places|Portugal|Lisbon", "Sunset"],
        ["Places/Portugal/Lisbon", "Sunset"],
    )
    assert _exiv2_keywords(sidecar_file) == {
        "Xmp.dc.subject": ["Lisbon", "Sunset"],
        "Xmp.lr.hierarchicalSubject": ["Places|Portugal|Lisbon", "Sunset"],
        "Xmp.digiKam.TagsList": ["Places/Portugal/Lisbon", "Sunset"],
    }
    assert photo.read_bytes() == before  # the photo itself is never written
    again = plan_keywords(photo, ["Sunset"])
    assert not again.changes and again.unchanged == ("Sunset",)
    # read back by blipdesk's own reader too: the person's keywords, never blipdesk's tags
    assert read_photo_keywords(str(photo)).keywords == ("Places|Portugal|Lisbon", "Sunset")


def test_a_keyword_is_merged_into_a_sidecar_byte_for_byte(tmp_path):
    from blipdesk.services.sidecars import apply, plan_keywords

    photo = jpeg(tmp_path / "b.jpg")
    original = (
        "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>\n<!-- mine -->\n"
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4">\n'
        "   <dc:subject><rdf:Bag><rdf:li>Anna</rdf:li></rdf:Bag></dc:subject>\n"
        "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end='w'?>"
    )
    (tmp_path / "b.jpg.xmp").write_text(original)
    apply(plan_keywords(photo, ["Places|Lisbon"]))
    text = (tmp_path / "b.jpg.xmp").read_text()
    assert text.startswith(original[: original.index("<rdf:li>Anna</rdf:li>") + 21])
    assert 'xmp:Rating="4"' in text and "<!-- mine -->" in text
    # the new hierarchies are seeded with the flat keyword already there, so darktable and
    # digiKam (which prefer them) still read it
    found = read_photo_keywords(str(photo))
    assert set(found.keywords) == {"Anna", "Places|Lisbon"}
    assert "<rdf:li>Anna</rdf:li>" in text.split("hierarchicalSubject", 1)[1]
