"""XMP sidecars: what blipdesk writes is what digiKam, darktable, Lightroom and exiftool read.

Read-backs go through exiftool, the reference reader (CI installs it); the merge tests build the
"existing" sidecars with exiftool too, as other programs would have left them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blipdesk.infra.atomic import TEMP_PREFIX, host_id, remove_stale_temporaries
from blipdesk.services import sidecars
from blipdesk.services.sidecars import (
    MAX_SIDECAR_BYTES,
    SidecarChangedError,
    SidecarError,
    SidecarNaming,
    apply,
    apply_plans,
    describe,
    normalize_tags,
    plan_removal,
    plan_removal_under,
    plan_sidecar,
    plan_sidecars,
    read_sidecar,
    remove_tags,
    sidecar_clash,
    sidecar_path,
    write_tags,
    xmp_text_problem,
)

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool is not installed (Debian: libimage-exiftool-perl; .ci/run installs it)",
)
KEYWORD_ARGS = ["-XMP-dc:Subject", "-XMP-lr:HierarchicalSubject", "-XMP-digiKam:TagsList"]

SPECIAL_NAMES = [
    "a & b <c> \"quoted\" 'single'",
    "dog 🐕 on the beach 🏖️",
    "שלום עולם",  # right to left
    "مرحبا بالعالم",
    "x" * 300,
    "café crème",
    "cats/dogs",
    "either|or",
    "]]> and <!-- not a comment -->",
]


def exiftool_read(path: Path, *args: str) -> dict:
    out = subprocess.run(
        [EXIFTOOL, "-j", "-struct", "-charset", "UTF8", *(args or KEYWORD_ARGS), str(path)],
        check=True,
        capture_output=True,
    ).stdout
    return json.loads(out)[0]


def as_list(value) -> list:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def keywords(path: Path) -> tuple[list[str], list[str], list[str]]:
    """The three keyword fields as exiftool reads them. Its RDF/XML output (-X) keeps every value
    a string (its JSON turns "FALSE" into false and "1e5" into a number)."""
    out = subprocess.run(
        [EXIFTOOL, "-X", "-charset", "UTF8", *KEYWORD_ARGS, str(path)],
        check=True,
        capture_output=True,
    ).stdout
    found: dict[str, list[str]] = {}
    for desc in ET.fromstring(out):
        for prop in desc:
            items = prop.findall(".//{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li")
            values = [li.text or "" for li in items] if items else [prop.text or ""]
            found[prop.tag.rsplit("}", 1)[1]] = values
    return (
        found.get("Subject", []),
        found.get("HierarchicalSubject", []),
        found.get("TagsList", []),
    )


def exiftool_create(path: Path, *assignments: str) -> None:
    subprocess.run(
        [EXIFTOOL, "-q", "-charset", "UTF8", "-o", str(path), *assignments],
        check=True,
        capture_output=True,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG, but its bytes must never change")
    return path


# --- naming ------------------------------------------------------------------------------------


def test_naming(tmp_path):
    assert sidecar_path(tmp_path / "a.jpg").name == "a.jpg.xmp"
    assert sidecar_path(tmp_path / "a.jpg", "xmp").name == "a.xmp"
    assert sidecar_path(tmp_path / "a.CR2", SidecarNaming.REPLACE).name == "a.xmp"
    assert SidecarNaming.parse(".jpg.xmp") is SidecarNaming.APPEND
    with pytest.raises(SidecarError):
        SidecarNaming.parse("sidecar")
    with pytest.raises(SidecarError):
        sidecar_path(tmp_path / "a.xmp", "xmp")


def test_existing_uppercase_sidecar_is_found(tmp_path):
    (tmp_path / "a.XMP").write_text("x")
    assert sidecar_path(tmp_path / "a.cr2", "xmp").name == "a.XMP"


# --- writing new sidecars ----------------------------------------------------------------------


@needs_exiftool
@pytest.mark.parametrize("naming", ["jpg.xmp", "xmp"])
def test_new_sidecar_is_read_by_exiftool(photo, naming):
    before = sha256(photo)
    plan = plan_sidecar(photo, ["dog", "beach"], naming)
    assert plan.creates_file and plan.added == ("dog", "beach") and not plan.path.exists()
    apply(plan)
    expected = photo.parent / ("photo.jpg.xmp" if naming == "jpg.xmp" else "photo.xmp")
    assert plan.path == expected and expected.exists()
    assert keywords(expected) == (
        ["dog", "beach"],
        ["blipdesk|dog", "blipdesk|beach"],
        ["blipdesk/dog", "blipdesk/beach"],
    )
    assert sha256(photo) == before


def test_plan_is_a_dry_run(photo):
    plan = plan_sidecar(photo, ["dog"])
    assert plan.changes and plan.content
    assert sorted(p.name for p in photo.parent.iterdir()) == ["photo.jpg"]


def test_planning_nothing_for_a_photo_without_sidecar(photo):
    plan = plan_sidecar(photo, [])
    assert not plan.changes and not plan.creates_file
    apply(plan)
    assert not plan.path.exists()


def test_same_tags_again_changes_nothing(photo):
    write_tags(photo, ["dog", "cat"])
    plan = plan_sidecar(photo, ["cat", "dog"])
    assert not plan.changes
    assert plan.unchanged == ("cat", "dog") and plan.added == plan.removed == ()


def test_replacing_tags_reports_the_difference(photo):
    write_tags(photo, ["dog", "cat"])
    plan = plan_sidecar(photo, ["cat", "sea"])
    assert (plan.added, plan.removed, plan.unchanged) == (("sea",), ("dog",), ("cat",))
    apply(plan)
    assert read_sidecar(plan.path).blipdesk_tags == ("cat", "sea")


@needs_exiftool
@pytest.mark.parametrize("naming", ["jpg.xmp", "xmp"])
def test_special_names_round_trip(photo, naming):
    write_tags(photo, SPECIAL_NAMES, naming)
    path = sidecar_path(photo, naming)
    subjects, hierarchical, tags_list = keywords(path)
    assert subjects == SPECIAL_NAMES
    assert hierarchical == [
        "blipdesk|" + n.replace("|", "¦") for n in SPECIAL_NAMES
    ]  # a "|" inside a name would make a level
    assert tags_list == ["blipdesk/" + n.replace("/", "∕") for n in SPECIAL_NAMES]
    assert read_sidecar(path).blipdesk_tags == tuple(SPECIAL_NAMES)
    remove_tags(photo, naming)
    assert not path.exists()


def test_names_xml_cannot_hold_are_refused(photo):
    with pytest.raises(SidecarError, match="cannot hold"):
        plan_sidecar(photo, ["bell\x07"])


def test_names_are_stripped_and_deduplicated(photo):
    plan = plan_sidecar(photo, [" dog ", "dog", "", "  "])
    assert plan.added == ("dog",)


# --- merging into other programs' sidecars -----------------------------------------------------

DARKTABLE_NS = "http://darktable.sf.net/"


DARKTABLE_BLOCK = """ <rdf:Description rdf:about=''
  xmlns:darktable='http://darktable.sf.net/'
  darktable:xmp_version='5' darktable:raw_params='0' darktable:history_end='2'>
  <darktable:history>
   <rdf:Seq>
    <rdf:li darktable:num='0' darktable:operation='exposure' darktable:enabled='1'
     darktable:params='0000000000000000'/>
    <rdf:li darktable:num='1' darktable:operation='colorin' darktable:enabled='1'
     darktable:params='gz12eJxjZBgFo2AU0AsAAAQQAAE='/>
   </rdf:Seq>
  </darktable:history>
 </rdf:Description>
</rdf:RDF>"""


@pytest.fixture
def user_sidecar(tmp_path, photo) -> Path:
    """A sidecar as a user's other programs left it: rating, title, keywords, and darktable's
    history (a namespace exiftool does not know, in attribute and element form)."""
    path = tmp_path / "photo.jpg.xmp"
    exiftool_create(
        path,
        "-XMP-xmp:Rating=4",
        "-XMP-dc:Title=Summer evening",
        "-XMP-dc:Subject=holiday",
        "-XMP-dc:Subject=Paris",
        "-XMP-lr:HierarchicalSubject=Places|Paris",
        "-XMP-digiKam:TagsList=Places/Paris",
        "-XMP-xmpMM:DocumentID=xmp.did:1234",
    )
    path.write_text(path.read_text("utf-8").replace("</rdf:RDF>", DARKTABLE_BLOCK), "utf-8")
    return path


@needs_exiftool
def test_merge_keeps_every_other_field_and_keyword(photo, user_sidecar):
    before_fields = exiftool_read(user_sidecar, "-XMP:all")
    assert before_fields["History_end"] == 2  # the custom namespace really is there
    assert [h["Operation"] for h in before_fields["History"]] == ["exposure", "colorin"]
    photo_hash = sha256(photo)

    write_tags(photo, ["dog", "sunset"])
    subjects, hierarchical, tags_list = keywords(user_sidecar)
    assert subjects == ["holiday", "Paris", "dog", "sunset"]
    assert hierarchical == ["Places|Paris", "blipdesk|dog", "blipdesk|sunset"]
    assert tags_list == ["Places/Paris", "blipdesk/dog", "blipdesk/sunset"]
    after_fields = exiftool_read(user_sidecar, "-XMP:all")
    for key, value in before_fields.items():
        if key not in ("Subject", "HierarchicalSubject", "TagsList", "SourceFile"):
            assert after_fields[key] == value, key
    assert DARKTABLE_NS in user_sidecar.read_text()

    remove_tags(photo)
    assert exiftool_read(user_sidecar, "-XMP:all") == before_fields
    assert sha256(photo) == photo_hash


@needs_exiftool
def test_user_keyword_with_a_tags_name_survives_removal(photo, tmp_path):
    """'dog' was the user's flat keyword before blipdesk tagged the photo 'dog': it stays."""
    path = tmp_path / "photo.jpg.xmp"
    exiftool_create(
        path,
        "-XMP-dc:Subject=dog",
        "-XMP-dc:Subject=Animals",
        "-XMP-lr:HierarchicalSubject=Animals",
    )
    plan = plan_sidecar(photo, ["dog", "cat"])
    assert "lr:hierarchicalSubject: dog" in plan.mirrored  # pinned: no hierarchy named it
    apply(plan)
    assert read_sidecar(path).blipdesk_tags == ("cat", "dog")
    remove_tags(photo)
    subjects, hierarchical, tags_list = keywords(path)
    assert subjects == ["dog", "Animals"]
    assert not any(k.startswith("blipdesk") for k in hierarchical + tags_list)


@needs_exiftool
def test_keywords_under_a_user_hierarchy_are_the_users(photo, tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    exiftool_create(path, "-XMP-dc:Subject=dog", "-XMP-lr:HierarchicalSubject=Animals|dog")
    write_tags(photo, ["dog"])
    assert keywords(path)[0] == ["dog"]  # not duplicated
    remove_tags(photo)
    assert keywords(path) == (["dog"], ["Animals|dog"], [])  # the seeded field is taken back


@needs_exiftool
def test_created_hierarchy_is_seeded_with_user_keywords(photo, tmp_path):
    """darktable and digiKam prefer the hierarchical fields to dc:subject: creating them with
    blipdesk's tags alone would hide the user's keywords from those programs."""
    path = tmp_path / "photo.jpg.xmp"
    exiftool_create(path, "-XMP-dc:Subject=holiday", "-XMP-digiKam:TagsList=Places/Paris")
    write_tags(photo, ["dog"])
    subjects, hierarchical, tags_list = keywords(path)
    assert subjects == ["holiday", "dog"]
    assert hierarchical == ["Places|Paris", "holiday", "blipdesk|dog"]
    assert tags_list == ["Places/Paris", "blipdesk/dog"]  # it existed: digiKam's own choice
    remove_tags(photo)
    assert keywords(path) == (["holiday"], [], ["Places/Paris"])  # the seeds are taken back


@needs_exiftool
def test_removal_on_a_sidecar_without_blipdesk_changes_nothing(photo, user_sidecar):
    before = user_sidecar.read_bytes()
    plan = plan_removal(photo)
    assert not plan.changes and plan.removed == ()
    apply(plan)
    assert user_sidecar.read_bytes() == before


def test_user_created_empty_sidecar_is_not_deleted(photo, tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    path.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
    )
    write_tags(photo, ["dog"])
    remove_tags(photo)
    assert path.exists() and read_sidecar(path).subjects == ()


ATTRIBUTE_FORM = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmp:Rating="5" crs:Exposure2012="+0.35" crs:WhiteBalance="As Shot">
   <!-- a comment that must stay -->
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:subject>
    <rdf:Bag>
     <rdf:li>film</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


@needs_exiftool
def test_attribute_form_and_packet_wrapper(photo, tmp_path):
    path = tmp_path / "photo.xmp"
    path.write_text(ATTRIBUTE_FORM, encoding="utf-8")
    before = exiftool_read(path, "-XMP:all")
    write_tags(photo, ["dog & cat"], "xmp")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<?xpacket begin=") and text.rstrip().endswith('<?xpacket end="w"?>')
    assert "<!-- a comment that must stay -->" in text
    assert 'xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"' in text  # prefixes kept
    after = exiftool_read(path, "-XMP:all")
    assert after["Rating"] == 5 and after["Exposure2012"] == before["Exposure2012"]
    assert as_list(after["Subject"]) == ["film", "dog & cat"]
    remove_tags(photo, "xmp")
    assert exiftool_read(path, "-XMP:all") == before


def test_simple_and_attribute_keyword_forms_are_read(tmp_path, photo):
    path = tmp_path / "photo.jpg.xmp"
    path.write_text(
        '<?xml version="1.0"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'dc:subject="flat"/><rdf:Description rdf:about="" '
        'xmlns:lr="http://ns.adobe.com/lightroom/1.0/"><lr:hierarchicalSubject>A|b'
        "</lr:hierarchicalSubject></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    assert read_sidecar(path).subjects == ("flat",)
    assert read_sidecar(path).hierarchical == ("A|b",)
    write_tags(photo, ["dog"])
    found = read_sidecar(path)
    assert found.subjects == ("flat", "dog")
    assert found.hierarchical == ("A|b", "blipdesk|dog")
    assert found.blipdesk_tags == ("dog",)


def test_not_xmp_is_refused(photo, tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    path.write_text("<html/>")
    with pytest.raises(SidecarError, match="not an XMP"):
        plan_sidecar(photo, ["dog"])
    path.write_text("<x:xmpmeta")
    with pytest.raises(SidecarError, match="not a readable"):
        plan_sidecar(photo, ["dog"])
    path.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(SidecarError):
        plan_sidecar(photo, ["dog"])


def test_entity_declarations_are_refused(photo, tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>'
    )
    with pytest.raises(SidecarError, match="document type"):
        plan_sidecar(photo, ["dog"])


# --- safety ------------------------------------------------------------------------------------


def test_refuses_when_the_sidecar_changed_after_planning(photo):
    write_tags(photo, ["dog"])
    plan = plan_sidecar(photo, ["cat"])
    plan.path.write_text(plan.path.read_text().replace("dog", "wolf"))
    edited = plan.path.read_bytes()
    with pytest.raises(SidecarChangedError):
        apply(plan)
    assert plan.path.read_bytes() == edited


def test_refuses_when_a_sidecar_appeared_after_planning(photo):
    plan = plan_sidecar(photo, ["cat"])
    plan.path.write_text("someone else's")
    with pytest.raises(SidecarChangedError):
        apply(plan)
    assert plan.path.read_text() == "someone else's"


def test_no_temporary_files_left_and_mode_kept(photo):
    write_tags(photo, ["dog"])
    plan_path = sidecar_path(photo)
    plan_path.chmod(0o640)
    write_tags(photo, ["cat"])
    assert plan_path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in photo.parent.iterdir()) == ["photo.jpg", "photo.jpg.xmp"]


def test_photo_is_never_opened_for_writing(photo, monkeypatch):
    import builtins
    import os

    real_open, real_os_open = builtins.open, os.open

    def guarded_open(file, mode="r", *args, **kwargs):
        assert not (Path(file) == photo and any(c in mode for c in "wax+")), mode
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(file, flags, *args, **kwargs):
        assert Path(file) != photo or flags & (os.O_WRONLY | os.O_RDWR) == 0
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    before = sha256(photo)
    write_tags(photo, ["dog"])
    remove_tags(photo)
    assert sha256(photo) == before


def test_photos_sharing_a_sidecar_share_a_plan(tmp_path):
    jpg, raw, other = tmp_path / "p.jpg", tmp_path / "p.cr2", tmp_path / "q.jpg"
    for p in (jpg, raw, other):
        p.write_bytes(b"x")
    plans = plan_sidecars({jpg: ["dog"], raw: ["cat", "dog"], other: ["sea"]}, "xmp")
    assert len(plans) == 2
    by_path = {p.path.name: p for p in plans}
    assert by_path["p.xmp"].added == ("dog", "cat")
    assert by_path["p.xmp"].photos == (jpg, raw)
    for plan in plans:
        apply(plan)
    removal = plan_sidecars({jpg: [], raw: [], other: []}, "xmp", remove=True)
    assert all(p.deletes_file for p in removal)


def test_plan_sidecars_reports_bad_files(tmp_path):
    good, bad = tmp_path / "a.jpg", tmp_path / "b.jpg"
    good.write_bytes(b"x")
    bad.write_bytes(b"x")
    (tmp_path / "b.jpg.xmp").write_text("not xml")
    plans = plan_sidecars({good: ["dog"], bad: ["dog"]})
    assert isinstance(plans[1], SidecarError) and not isinstance(plans[0], SidecarError)
    with pytest.raises(SidecarError, match="not there"):
        plan_sidecar(tmp_path / "gone.jpg", ["dog"])


# --- property-based ----------------------------------------------------------------------------

tag_names = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"
        ),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=st.lists(tag_names, max_size=8), second=st.lists(tag_names, max_size=8))
def test_written_tags_read_back_as_written(tmp_path_factory, first, second):
    folder = tmp_path_factory.mktemp("prop")
    photo = folder / "p.jpg"
    photo.write_bytes(b"x")
    write_tags(photo, first)
    assert set(read_sidecar(sidecar_path(photo)).blipdesk_tags) == set(normalize_tags(first))
    write_tags(photo, second)
    assert set(read_sidecar(sidecar_path(photo)).blipdesk_tags) == set(normalize_tags(second))
    remove_tags(photo)
    assert not sidecar_path(photo).exists()


@needs_exiftool
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(tag_names, min_size=1, max_size=6, unique=True))
def test_exiftool_reads_what_was_written(tmp_path_factory, names):
    folder = tmp_path_factory.mktemp("prop-exiftool")
    photo = folder / "p.jpg"
    photo.write_bytes(b"x")
    write_tags(photo, names)
    subjects, hierarchical, tags_list = keywords(sidecar_path(photo))
    assert subjects == names
    assert hierarchical == ["blipdesk|" + n.replace("|", "¦") for n in names]
    assert tags_list == ["blipdesk/" + n.replace("/", "∕") for n in names]


def test_a_keyword_field_in_an_unexpected_form_is_left_alone(photo, tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    path.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject rdf:resource="urn:x"/>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    with pytest.raises(SidecarError, match=r"photo\.jpg\.xmp: its subject has a form"):
        plan_sidecar(photo, ["dog"])


USER_KEYWORDS = ["holiday", "Paris", "Places", "dog", "blipdesk"]


@needs_exiftool
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rounds=st.lists(
        st.lists(st.one_of(st.sampled_from(USER_KEYWORDS), tag_names), max_size=5),
        min_size=1,
        max_size=3,
    )
)
@pytest.mark.slow
def test_removal_restores_a_user_sidecar(tmp_path_factory, rounds):
    """Whatever blipdesk wrote, in however many rounds, and whatever the names (some equal to the
    user's keywords), removal gives back the user's sidecar: as exiftool reads it, and its bytes."""
    folder = tmp_path_factory.mktemp("restore")
    photo = folder / "p.jpg"
    photo.write_bytes(b"x")
    path = folder / "p.jpg.xmp"
    exiftool_create(
        path,
        "-XMP-xmp:Rating=2",
        "-XMP-dc:Subject=holiday",
        "-XMP-dc:Subject=Paris",
        "-XMP-dc:Subject=dog",
        "-XMP-lr:HierarchicalSubject=Places|Paris",
    )
    before = exiftool_read(path, "-XMP:all")
    original = path.read_bytes()
    for tags in rounds:
        write_tags(photo, tags)
        assert set(read_sidecar(path).blipdesk_tags) == set(normalize_tags(tags))
        assert {"holiday", "Paris", "dog"} <= set(read_sidecar(path).subjects)
        assert exiftool_read(path, "-XMP-xmp:Rating")["Rating"] == 2
    remove_tags(photo)
    assert exiftool_read(path, "-XMP:all") == before
    assert path.read_bytes() == original  # byte for byte, however many rounds


# --- hostile sidecars (issue 10) ----------------------------------------------------------------


def test_a_fifo_sidecar_is_refused_without_blocking(photo, tmp_path):
    os.mkfifo(tmp_path / "photo.jpg.xmp")  # opening it for reading would wait for a writer
    with pytest.raises(SidecarError, match=r"photo\.jpg\.xmp: not a regular file"):
        plan_sidecar(photo, ["dog"])
    assert isinstance(plan_removal_under([tmp_path])[0], SidecarError)


def test_a_symlink_to_a_device_or_a_huge_file_is_refused(photo, tmp_path):
    os.symlink("/dev/zero", tmp_path / "photo.jpg.xmp")
    with pytest.raises(SidecarError, match="not a regular file"):
        plan_sidecar(photo, ["dog"])
    (tmp_path / "photo.jpg.xmp").unlink()
    with open(tmp_path / "photo.jpg.xmp", "wb") as fh:
        fh.truncate(MAX_SIDECAR_BYTES + 1)  # sparse: no disk used
    with pytest.raises(SidecarError, match="too large for a sidecar"):
        plan_sidecar(photo, ["dog"])


def test_one_bad_item_never_stops_the_others(tmp_path):
    """A 1000-deep sidecar, a sidecar name too long for the disk and a FIFO each fail alone."""
    names = ["deep.jpg", "x" * 250 + ".jpg", "pipe.jpg", "good.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "deep.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">' + "<a>" * 1000 + "</a>" * 1000 + "</x:xmpmeta>"
    )
    os.mkfifo(tmp_path / "pipe.jpg.xmp")
    plans = plan_sidecars({tmp_path / n: ["dog"] for n in names})
    errors = sorted(str(p) for p in plans if isinstance(p, SidecarError))
    assert len(errors) == 3
    assert "deep.jpg.xmp: nested more than" in errors[0]
    assert "pipe.jpg.xmp: not a regular file" in errors[1]
    assert "xxx.jpg.xmp: cannot be read: the name is too long" in errors[2]
    run = apply_plans(plans)
    assert len(run.changed) == 1 and len(run.failed) == 3
    assert read_sidecar(tmp_path / "good.jpg.xmp").blipdesk_tags == ("dog",)


@pytest.mark.parametrize(
    "text, problem",
    [("bell\x07", "U+0007"), ("a\ufffeb", "U+FFFE"), ("caf\udce9", "U+DCE9"), ("ok 🐕 | /", None)],
)
def test_xmp_text_problem_names_the_character(text, problem):
    assert xmp_text_problem(text) == problem


def test_names_that_fold_to_one_entry_are_written_once(photo):
    plan = plan_sidecar(photo, ["a|b", "a¦b", "c/d", "c∕d"])
    assert plan.added == ("a|b", "c/d")
    assert len(plan.notes) == 2 and "'a¦b' left out" in plan.notes[0]
    assert "left out" in describe(plan)
    apply(plan)
    found = read_sidecar(plan.path)
    assert found.hierarchical == ("blipdesk|a¦b", "blipdesk|c/d")
    assert found.tags_list == ("blipdesk/a|b", "blipdesk/c∕d")
    again = plan_sidecar(photo, ["a|b", "a¦b", "c/d", "c∕d"])
    assert not again.changes and again.unchanged == ("a|b", "c/d")
    assert sidecar_clash("a¦b", ["dog", "a|b"]) == "a|b" and sidecar_clash("a/b", ["a|b"]) is None


def test_a_plan_that_changes_never_says_unchanged(photo, tmp_path):
    """An older blipdesk wrote the folded entry twice: tidying it is a change, and says so."""
    write_tags(photo, ["a|b"])
    path = tmp_path / "photo.jpg.xmp"
    twice = "<rdf:li>blipdesk|a¦b</rdf:li>"
    path.write_text(path.read_text().replace(twice, twice + twice))
    plan = plan_sidecar(photo, ["a|b"])
    assert plan.changes and "unchanged" not in describe(plan) and "tidied" in describe(plan)
    apply(plan)
    assert not plan_sidecar(photo, ["a|b"]).changes


# --- temporaries ---------------------------------------------------------------------------------


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def test_an_interrupted_write_leaves_no_temporary(photo, monkeypatch):
    def interrupted(*_args):
        raise KeyboardInterrupt

    plan = plan_sidecar(photo, ["dog"])
    monkeypatch.setattr(os, "link", interrupted)
    with pytest.raises(KeyboardInterrupt):
        apply(plan)
    assert sorted(p.name for p in photo.parent.iterdir()) == ["photo.jpg"]


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = host_id()
    stale = tmp_path / f"{TEMP_PREFIX}{host}-{dead.pid}-abc123_x.tmp"
    mine = tmp_path / f"{TEMP_PREFIX}{host}-{os.getpid()}-abc123_x.tmp"
    running = tmp_path / f"{TEMP_PREFIX}{host}-1-abc123_x.tmp"  # PID 1 runs
    other_host = tmp_path / f"{TEMP_PREFIX}00000000-{dead.pid}-abc123_x.tmp"
    old_other_host = tmp_path / f"{TEMP_PREFIX}00000000-{dead.pid}-old.tmp"
    theirs = [tmp_path / ".photo.jpg.xmp.abc.tmp", tmp_path / f"{TEMP_PREFIX}notes.txt"]
    for p in [stale, mine, running, other_host, old_other_host, *theirs]:
        p.write_text("x")
    os.utime(old_other_host, (0, 0))
    link = tmp_path / f"{TEMP_PREFIX}{host}-{dead.pid}-link.tmp"
    link.symlink_to(theirs[0])
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([stale, old_other_host])
    assert all(p.exists() for p in [mine, running, other_host, *theirs]) and link.is_symlink()


def test_a_run_removes_stale_temporaries_next_to_its_sidecars(photo):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = photo.parent / f"{TEMP_PREFIX}{host_id()}-{dead.pid}-abc.tmp"
    stale.write_text("half a sidecar")
    run = apply_plans(plan_sidecars({photo: ["dog"]}), dry_run=True)
    assert stale.exists() and run.cleaned == ()  # a dry run writes nothing, removes nothing
    run = apply_plans(plan_sidecars({photo: ["dog"]}))
    assert run.cleaned == (stale,) and not stale.exists()


def test_a_cancelled_run_stops_between_sidecars(tmp_path):
    photos = [tmp_path / f"p{i}.jpg" for i in range(3)]
    for p in photos:
        p.write_bytes(b"x")
    cancel = threading.Event()
    cancel.set()
    run = apply_plans(plan_sidecars({p: ["dog"] for p in photos}), cancel=cancel)
    assert run.stopped and not run.changed and not list(tmp_path.glob("*.xmp"))


# --- read-only and symlinked sidecars --------------------------------------------------------------


def test_a_read_only_sidecar_is_left_alone(photo):
    plan = write_tags(photo, ["dog"])
    plan.path.chmod(0o444)
    before = plan.path.read_bytes()
    with pytest.raises(SidecarError, match=r"photo\.jpg\.xmp: read-only"):
        plan_sidecar(photo, ["cat"])
    with pytest.raises(SidecarError, match="read-only"):
        plan_removal(photo)
    assert plan_sidecar(photo, ["dog"]).changes is False  # nothing to do: no complaint
    assert plan.path.read_bytes() == before


def test_a_read_only_sidecar_made_after_planning_is_left_alone(photo):
    write_tags(photo, ["dog"])
    plan = plan_sidecar(photo, ["cat"])
    plan.path.chmod(0o444)
    with pytest.raises(SidecarError, match="read-only"):
        apply(plan)
    assert read_sidecar(plan.path).blipdesk_tags == ("dog",)


def test_a_symlinked_sidecar_is_written_through(photo, tmp_path):
    shared = tmp_path / "elsewhere"
    shared.mkdir()
    target = shared / "real.xmp"
    target.write_text(USER_SIDECAR_TEXT)
    link = tmp_path / "photo.jpg.xmp"
    link.symlink_to(target)
    write_tags(photo, ["dog"])
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert read_sidecar(target).blipdesk_tags == ("dog",)
    assert sorted(p.name for p in shared.iterdir()) == ["real.xmp"]  # no temporary left there
    remove_tags(photo)
    assert link.is_symlink() and target.read_text() == USER_SIDECAR_TEXT


def test_a_dangling_symlinked_sidecar_is_reported(photo, tmp_path):
    (tmp_path / "photo.jpg.xmp").symlink_to(tmp_path / "gone.xmp")
    with pytest.raises(SidecarError, match="symbolic link to a file that is not there"):
        plan_sidecar(photo, ["dog"])
    assert not (tmp_path / "gone.xmp").exists()


# --- byte-exact round trips ----------------------------------------------------------------------

USER_SIDECAR_TEXT = """<?xml version='1.0' encoding='UTF-8'?>
<!-- a comment before the packet -->
<x:xmpmeta xmlns:x='adobe:ns:meta/' xmlns="http://unused.example/default">
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
 <rdf:Description rdf:about=''
  xmlns:dc='http://purl.org/dc/elements/1.1/'
  xmlns:xmp='http://ns.adobe.com/xap/1.0/'
  xmp:Rating='3'>
  <dc:title><rdf:Alt><rdf:li xml:lang="x-default"><![CDATA[a <b> & c]]></rdf:li></rdf:Alt></dc:title>
  <dc:subject><rdf:Bag>
    <rdf:li>grandma</rdf:li>
    <rdf:li>garden</rdf:li>
  </rdf:Bag></dc:subject>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<!-- a comment after it -->
"""

ROUND_TRIP_DOCUMENTS = {
    "comments, CDATA, unused namespace, line breaks in tags": USER_SIDECAR_TEXT,
    "no trailing newline": USER_SIDECAR_TEXT.rstrip("\n"),
    "two trailing newlines, CRLF": USER_SIDECAR_TEXT.replace("\n", "\r\n") + "\r\n",
    "packet wrapper, keywords elsewhere": ATTRIBUTE_FORM,
    "one line, no keywords": '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
    '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/"><xmp:Rating>1</xmp:Rating></rdf:Description>'
    "</rdf:RDF></x:xmpmeta>",
    "self-closing description": '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF xmlns:rdf='
    '"http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n  <rdf:Description rdf:about="" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n   xmp:Rating="2"/>\n </rdf:RDF>\n</x:xmpmeta>\n',
}


@needs_exiftool
@pytest.mark.parametrize("text", ROUND_TRIP_DOCUMENTS.values(), ids=ROUND_TRIP_DOCUMENTS.keys())
def test_add_then_remove_gives_back_the_original_bytes(photo, tmp_path, text):
    path = tmp_path / "photo.jpg.xmp"
    path.write_bytes(text.encode("utf-8"))
    before_fields = exiftool_read(path, "-XMP:all")
    write_tags(photo, ["dog", "a & <b>", "grandma"])
    assert read_sidecar(path).blipdesk_tags == ("dog", "a & <b>", "grandma")
    after = exiftool_read(path, "-XMP:all")
    assert "dog" in as_list(after["Subject"]) and "blipdesk|dog" in as_list(
        after["HierarchicalSubject"]
    )
    for key, value in before_fields.items():
        if key not in ("Subject", "HierarchicalSubject", "TagsList", "SourceFile"):
            assert after[key] == value, key
    remove_tags(photo)
    assert path.read_bytes() == text.encode("utf-8")


def test_an_edit_elsewhere_survives_and_only_blipdesk_entries_go(photo, tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    path.write_text(USER_SIDECAR_TEXT)
    write_tags(photo, ["dog"])
    path.write_text(path.read_text().replace("xmp:Rating='3'", "xmp:Rating='5'"))
    remove_tags(photo)
    assert path.read_text() == USER_SIDECAR_TEXT.replace("xmp:Rating='3'", "xmp:Rating='5'")


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_bom_sidecars_are_read_and_keep_their_encoding(photo, tmp_path, codec):
    """XMP packets may be UTF-8, UTF-16 or UTF-32; with a byte order mark each is read, edited and
    written back in its own encoding (UTF-32 was refused: "invalid start byte", or worse)."""
    path = tmp_path / "photo.jpg.xmp"
    bom = {"utf-8-sig": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
    bom |= {"utf-32-le": b"\xff\xfe\x00\x00", "utf-32-be": b"\x00\x00\xfe\xff"}
    label = codec.split("-")[0].upper() + "-" + codec.split("-")[1]
    data = bom[codec] + USER_SIDECAR_TEXT.replace("UTF-8", label).encode(codec)
    path.write_bytes(data)
    assert read_sidecar(path).subjects == ("grandma", "garden")
    assert sidecars.read_sidecar_rating(path) == sidecars.SidecarRating(3, 0)
    write_tags(photo, ["dog", "café"])
    assert path.read_bytes().startswith(bom[codec] or b"\xef\xbb\xbf")
    assert read_sidecar(path).blipdesk_tags == ("dog", "café")
    remove_tags(photo)
    assert path.read_bytes() == data


def test_a_sidecar_error_names_the_sidecar_once(tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    path.write_text("<not xml")
    with pytest.raises(SidecarError) as info:
        sidecars.read_sidecar_rating(path)
    assert str(info.value).count("photo.jpg.xmp") == 1, info.value
    path.write_text(
        USER_SIDECAR_TEXT.replace("<dc:subject>", "<xmp:Rating><rdf:Alt/></xmp:Rating><dc:subject>")
    )
    with pytest.raises(SidecarError) as info:  # read_sidecar's rating: named, once
        read_sidecar(path)
    assert str(info.value).count("photo.jpg.xmp") == 1, info.value


def test_sidecars_are_written_by_the_one_atomic_writer(photo, monkeypatch):
    from blipdesk.infra import atomic
    from blipdesk.services.sidecars import write

    calls: list[tuple[Path, object]] = []
    real = atomic.write_atomic

    def counted(target, data, **kw):
        calls.append((Path(target), kw.get("expect")))
        return real(target, data, **kw)

    monkeypatch.setattr(write, "write_atomic", counted)
    write_tags(photo, ["dog"])
    write_tags(photo, ["cat"])
    path = sidecar_path(photo)
    assert calls[0] == (path, atomic.Expected(None))  # a new sidecar: never over one that appeared
    assert calls[1][0] == path and calls[1][1] != atomic.Expected(None)
    assert read_sidecar(path).blipdesk_tags == ("cat",)


def test_concurrent_writers_leave_one_consistent_sidecar(photo, tmp_path):
    """Writers racing on one sidecar: each write is refused or whole; the file always parses
    and holds one writer's tags; no temporary is left."""
    (tmp_path / "photo.jpg.xmp").write_text(USER_SIDECAR_TEXT)
    sets = [[f"tag{i}", "shared"] for i in range(4)]
    errors: list[BaseException] = []

    def writer(tags: list[str]) -> None:
        for _ in range(15):
            try:
                write_tags(photo, tags)
            except SidecarChangedError:
                pass
            except BaseException as exc:  # anything else is a failure of the test
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in sets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    found = read_sidecar(tmp_path / "photo.jpg.xmp")
    assert sorted(found.blipdesk_tags) in map(sorted, sets)
    assert found.user_subjects == ("grandma", "garden")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg", "photo.jpg.xmp"]
    remove_tags(photo)
    assert (tmp_path / "photo.jpg.xmp").read_text() == USER_SIDECAR_TEXT


_FORMS = {
    "subject": "<dc:subject><rdf:Bag><rdf:li>{k}</rdf:li></rdf:Bag></dc:subject>",
    "hierarchy": "<lr:hierarchicalSubject><rdf:Bag><rdf:li>A|{k}</rdf:li></rdf:Bag>"
    "</lr:hierarchicalSubject>",
    "tags list": "<digiKam:TagsList><rdf:Seq><rdf:li>A/{k}</rdf:li></rdf:Seq></digiKam:TagsList>",
    "comment": "<!-- {k} -->",
    "rating": "<xmp:Rating>{k}</xmp:Rating>",
}
_DESCRIPTION_NS = (
    f'xmlns:dc="{sidecars.NS_DC}" xmlns:lr="{sidecars.NS_LR}" '
    f'xmlns:digiKam="{sidecars.NS_DIGIKAM}" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
)


@st.composite
def user_documents(draw) -> str:
    """Sidecars in the forms XMP writers use, laid out in any of several ways: one to three
    rdf:Description blocks (open, empty or self-closing), each keyword field at most once."""
    used: set[str] = set()
    blocks = []
    keyword = st.sampled_from(["dog", "cat", "holiday"])
    for _ in range(draw(st.integers(1, 3))):
        attrs = draw(st.sampled_from(["", ' xmp:Rating="1"', '\n   xmp:Label="Red"']))
        kinds = draw(st.lists(st.sampled_from(sorted(_FORMS)), max_size=3, unique=True))
        kinds = [k for k in kinds if k in ("comment", "rating") or k not in used]
        used.update(kinds)
        sep = draw(st.sampled_from(["", "\n   ", " ", "\r\n\t"]))
        open_tag = f'<rdf:Description rdf:about="" {_DESCRIPTION_NS}{attrs}'
        if kinds or draw(st.booleans()):
            kids = [_FORMS[k].format(k=draw(keyword)) for k in kinds]
            blocks.append(open_tag + ">" + sep + sep.join(kids) + sep + "</rdf:Description>")
        else:
            blocks.append(open_tag + "/>")
    sep = draw(st.sampled_from(["", "\n  "]))
    return (
        draw(st.sampled_from(["", "<?xml version='1.0'?>\n<!-- made by hand -->\n"]))
        + f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{sidecars.NS_RDF}">'
        + sep
        + sep.join(blocks)
        + sep
        + "</rdf:RDF></x:xmpmeta>"
        + draw(st.sampled_from(["", "\n", "\n\n"]))
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    document=st.one_of(st.sampled_from(list(ROUND_TRIP_DOCUMENTS.values())), user_documents()),
    rounds=st.lists(
        st.lists(
            st.one_of(st.sampled_from(["dog", "cat", "holiday", "x|y", "grandma"]), tag_names),
            max_size=4,
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_any_user_layout_comes_back_byte_for_byte(tmp_path_factory, document, rounds):
    """Whatever the layout (the hand-made documents above and generated ones), any rounds of
    tags then removal give back the sidecar byte for byte."""
    folder = tmp_path_factory.mktemp("layouts")
    photo = folder / "p.jpg"
    photo.write_bytes(b"x")
    path = folder / "p.jpg.xmp"
    path.write_bytes(document.encode("utf-8"))
    user = read_sidecar(path).subjects
    for tags in rounds:
        write_tags(photo, tags)
        found = read_sidecar(path)
        assert set(found.blipdesk_tags) == set(normalize_tags(tags))
        assert set(user) <= set(found.subjects)
    remove_tags(photo)
    assert path.read_bytes() == document.encode("utf-8")


def test_keywords_in_attribute_form_in_an_otherwise_empty_description_are_kept(photo, tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    path.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
        'rdf-syntax-ns#">\n  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements'
        '/1.1/" dc:subject="flat">  </rdf:Description>\n</rdf:RDF></x:xmpmeta>'
    )
    write_tags(photo, ["x|y"])
    found = read_sidecar(path)
    assert found.subjects == ("flat", "x|y") and found.blipdesk_tags == ("x|y",)
    remove_tags(photo)
    assert read_sidecar(path).subjects == ("flat",)
