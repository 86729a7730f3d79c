"""Issue 13 from the command line: label, tags calibrate, similar, and what export and xmp show."""

from __future__ import annotations

import json
import shutil

from tests.e2e.test_cli import blipdesk
from tests.helpers.models import scene


def test_label_calibrate_similar_export_and_xmp(tmp_path, tiny_model_dir):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        scene(96, 64, i).save(photos / f"p{i}.jpg", quality=90)
    shutil.copy(photos / "p0.jpg", photos / "copy-of-p0.jpg")
    data = tmp_path / "data"
    assert blipdesk(data, "tags", "add", "sea", "the sea", "--threshold", "0.5").returncode == 0
    scanned = blipdesk(data, "scan", photos, "--model", tiny_model_dir, "--device", "cpu",
                       "--precision", "fp32")  # fmt: skip
    assert scanned.returncode == 0, scanned.stderr
    model = ("--model", str(tiny_model_dir))

    # labels: by content, so the copy of p0 carries p0's label too
    yes = blipdesk(data, "label", "sea", "yes", photos / "p0.jpg", photos / "p1.jpg")
    assert yes.returncode == 0 and "sea: yes on 2 photos" in yes.stderr
    no = blipdesk(data, "label", "sea", "no", photos / "p2.jpg")
    assert no.returncode == 0
    doc = json.loads(blipdesk(data, "export", photos, *model).stdout)
    by_name = {p["path"].rsplit("/", 1)[1]: p["tags"]["sea"] for p in doc["photos"]}
    assert by_name["p0.jpg"]["label"] == "yes" and by_name["p0.jpg"]["match"] is True
    assert by_name["copy-of-p0.jpg"]["label"] == "yes"
    assert by_name["p2.jpg"]["label"] == "no" and by_name["p2.jpg"]["match"] is False
    assert by_name["p3.jpg"]["label"] is None

    # a rename keeps the label
    (photos / "p1.jpg").rename(photos / "renamed.jpg")
    assert blipdesk(data, "scan", photos, *model).returncode == 0
    doc = json.loads(blipdesk(data, "export", photos, *model).stdout)
    by_name = {p["path"].rsplit("/", 1)[1]: p["tags"]["sea"] for p in doc["photos"]}
    assert by_name["renamed.jpg"]["label"] == "yes"

    # xmp: the confirmed tag is written, the rejected one never
    xmp = blipdesk(data, "xmp", photos, *model)
    assert xmp.returncode == 0, xmp.stderr
    assert "sea" in (photos / "p0.jpg.xmp").read_text(encoding="utf-8")
    p2 = photos / "p2.jpg.xmp"
    assert not p2.exists() or "<rdf:li>sea</rdf:li>" not in p2.read_text(encoding="utf-8")

    # calibrate: a proposal (not applied), then applied, then reset
    shown = blipdesk(data, "tags", "calibrate", "sea", "--json", *model)
    assert shown.returncode == 0, shown.stderr
    proposal = json.loads(shown.stdout)
    assert proposal["labels"] == {
        "yes": 2,
        "no": 1,
    }  # per content: p0 and its copy are one and proposal["applied"] is False
    assert proposal["steps"][0]["step"] == "today"
    estimated = proposal["estimated_f1"]  # labels of both kinds: today's and the proposal's
    assert 0.0 <= estimated["today"] <= 1.0 and 0.0 <= estimated["proposed"] <= 1.0
    assert proposal["expected_f1"] == estimated["proposed"]
    # 2 yes + 1 no: the estimate is said to be rough, with the labels it rests on
    assert proposal["estimate_rough"] is True
    assert proposal["estimate_caveat"].startswith("rough: from 3 labels")
    text = blipdesk(data, "tags", "calibrate", "sea", *model)
    assert text.returncode == 0 and "LOO F1" in text.stdout and "not applied" in text.stderr
    assert "estimated F1 over the photos: today ~" in text.stdout
    assert "(rough: from 3 labels, most near the boundary" in text.stdout
    applied = blipdesk(data, "tags", "calibrate", "sea", "--apply", *model)
    assert applied.returncode == 0 and "applied" in applied.stderr
    assert blipdesk(data, "tags", "calibrate", "sea", "--reset", *model).returncode == 0

    # clear: back to the model's say
    assert blipdesk(data, "label", "sea", "clear", photos / "p2.jpg").returncode == 0
    doc = json.loads(blipdesk(data, "export", photos, *model).stdout)
    assert {p["path"].rsplit("/", 1)[1]: p["tags"]["sea"]["label"] for p in doc["photos"]}[
        "p2.jpg"
    ] is None

    # similar: the exact copy apart, the rest ranked
    sim = blipdesk(data, "similar", photos / "p0.jpg", photos, "--top", "3", "--json", *model)
    assert sim.returncode == 0, sim.stderr
    found = json.loads(sim.stdout)
    assert [d["path"].rsplit("/", 1)[1] for d in found["exact_duplicates"]] == ["copy-of-p0.jpg"]
    assert len(found["ranked"]) == 3
    assert all(d["path"].rsplit("/", 1)[1] != "copy-of-p0.jpg" for d in found["ranked"])

    # a tag from examples alone: calibrated from its labels, then in the export
    made = blipdesk(data, "tags", "from-examples", "mine", photos / "p3.jpg", photos / "p4.jpg",
                    "--no", photos / "p5.jpg")  # fmt: skip
    assert made.returncode == 0, made.stderr
    fitted = blipdesk(data, "tags", "calibrate", "mine", "--apply", "--json", *model)
    assert fitted.returncode == 0, fitted.stderr
    assert json.loads(fitted.stdout)["step"] == "examples"
    doc = json.loads(blipdesk(data, "export", photos, *model).stdout)
    mine = {p["path"].rsplit("/", 1)[1]: p["tags"].get("mine") for p in doc["photos"]}
    assert mine["p3.jpg"]["match"] is True and mine["p5.jpg"]["match"] is False

    # bad input: one line, the file named
    bad = blipdesk(data, "label", "sea", "yes", tmp_path / "nope.jpg")
    assert bad.returncode == 1 and "nope.jpg" in bad.stderr and "Traceback" not in bad.stderr
    unknown = blipdesk(data, "label", "lake", "yes", photos / "p0.jpg")
    assert unknown.returncode == 1 and "no tag called 'lake'" in unknown.stderr
    alone = blipdesk(data, "similar", photos / "p0.jpg", *model)
    assert alone.returncode == 1 and "folder" in alone.stderr
