"""Issue 26 from the command line: keywords add, remove, list, import and suggest."""

from __future__ import annotations

import json

from tests.e2e.test_cli import blipdesk
from tests.helpers import miniature as mini
from tests.helpers.models import scene
from tests.unit.test_keywords import sidecar
from tests.unit.test_sidecars import keywords


def test_add_remove_and_list_by_content(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        scene(48, 32, i).save(photos / f"p{i}.jpg", quality=90)
    (photos / "copy.jpg").write_bytes((photos / "p0.jpg").read_bytes())
    data = tmp_path / "data"
    added = blipdesk(
        data, "keywords", "add", "Places | Lisbon", photos / "p0.jpg", photos / "p1.jpg"
    )
    assert added.returncode == 0 and "Places|Lisbon: added to 2 photos" in added.stderr
    listed = json.loads(blipdesk(data, "keywords", "list", "--json").stdout)
    assert listed == [{"keyword": "Places|Lisbon", "photos": 2}]
    # by content: the copy of p0 is p0
    removed = blipdesk(data, "keywords", "remove", "Places|Lisbon", photos / "copy.jpg")
    assert removed.returncode == 0 and "taken off 1 photo" in removed.stderr
    assert blipdesk(data, "keywords", "list").stdout == "1\tPlaces|Lisbon\n"
    bad = blipdesk(data, "keywords", "add", "Places||Lisbon", photos / "p2.jpg")
    assert bad.returncode == 1 and "empty level" in bad.stderr


def test_import_then_suggest_from_the_vision_cache(tmp_path):
    """A drawn library keyworded in a person's words (red shapes are 'Colours|Warm|Crimson'),
    half of it keyworded: the other half gets suggestions, from the cache alone."""
    photos = tmp_path / "photos"
    photos.mkdir()
    drawn = mini.photos(70, 11)
    truth = {}
    for i, photo in enumerate(drawn):
        name = f"p{i:03d}.jpg"
        mini.render(photo).save(photos / name, quality=92)
        red = any(item.colour == "red" for item in photo.items)
        truth[name] = red
        if i < 40:
            names = ["Colours|Warm|Crimson"] if red else ["Colours|Cool"]
            (photos / f"{name}.xmp").write_text(
                sidecar([n.rsplit("|", 1)[-1] for n in names], names)
            )
    data = tmp_path / "data"
    model = ("--model", mini.SHIPPED, "--device", "cpu", "--precision", "fp32")
    assert blipdesk(data, "scan", photos, *model).returncode == 0
    imported = blipdesk(data, "keywords", "import", photos)
    assert imported.returncode == 0, imported.stderr
    assert "70 photos read, 40 with keywords, 2 distinct keywords" in imported.stderr
    got = blipdesk(
        data, "keywords", "suggest", photos, "--json", "--keyword", "Colours|Warm|Crimson", *model
    )
    assert got.returncode == 0, got.stderr
    assert "loading the model" in got.stderr  # the words' text side, once
    doc = json.loads(got.stdout)
    [learnt] = doc["keywords"]
    assert learnt["keyword"] == "Colours|Warm|Crimson"
    assert learnt["examples"] == sum(truth[f"p{i:03d}.jpg"] for i in range(40))
    assert learnt["estimated_precision"] >= 0.9
    suggested = {s["path"].rsplit("/", 1)[1] for s in doc["suggestions"]}
    assert suggested and all(int(name[1:4]) >= 40 for name in suggested)  # never a keyworded one
    right = sum(truth[name] for name in suggested)
    assert right / len(suggested) >= 0.85
    assert right / sum(truth[f"p{i:03d}.jpg"] for i in range(40, 70)) >= 0.6
    assert all(0.0 <= s["probability"] <= 1.0 for s in doc["suggestions"])
    again = blipdesk(
        data, "keywords", "suggest", photos, "--json", "--keyword", "Colours|Warm|Crimson", *model
    )
    assert "loading the model" not in again.stderr  # the words are scored now: no model at all
    assert json.loads(again.stdout)["suggestions"] == doc["suggestions"]
    # apply: the suggestions become the photos' keyword, in the library and in their sidecars,
    # under the person's own hierarchy, read back by exiftool; the photos are never written
    before = {p.name: p.read_bytes() for p in photos.glob("*.jpg")}
    dry = blipdesk(data, "keywords", "apply", photos, "--keyword", "Colours|Warm|Crimson",
                   "--dry-run", *model)  # fmt: skip
    assert dry.returncode == 0 and f"{len(suggested)} photos would be keyworded" in dry.stderr
    assert not any((photos / f"{name}.xmp").exists() for name in suggested)
    applied = blipdesk(data, "keywords", "apply", photos, "--keyword", "Colours|Warm|Crimson",
                       *model)  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert f"{len(suggested)} sidecars written" in applied.stderr
    for name in suggested:
        assert keywords(photos / f"{name}.xmp") == (
            ["Crimson"],
            ["Colours|Warm|Crimson"],
            ["Colours/Warm/Crimson"],
        )
    assert {p.name: p.read_bytes() for p in photos.glob("*.jpg")} == before
    counts = dict(
        line.split("\t")[::-1] for line in blipdesk(data, "keywords", "list").stdout.splitlines()
    )
    assert int(counts["Colours|Warm|Crimson"]) == learnt["examples"] + len(suggested)
    # accepted: nothing more to suggest for them
    last = blipdesk(data, "keywords", "suggest", photos, "--json", "--keyword",
                    "Colours|Warm|Crimson", *model)  # fmt: skip
    assert not {s["path"] for s in json.loads(last.stdout)["suggestions"]} & {
        str(photos / name) for name in suggested
    }
