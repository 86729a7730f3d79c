"""``blipdesk xmp`` end to end: tags, a scan on the tiny model, then sidecars previewed, written
and removed, with the photos untouched, a user's own sidecar kept and a broken one reported."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blipdesk.sidecars import read_sidecar
from blipdesk.testing import scene

ROOT = Path(__file__).resolve().parents[2]
USER_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Rating="3">
   <dc:subject>
    <rdf:Bag>
     <rdf:li>grandma</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def blipdesk(data: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "blipdesk", "--data-dir", str(data), *map(str, args)],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.suffix in (".jpg", ".png")
    }


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    for i in range(3):
        scene(96, 64, i).save(folder / f"p{i}.jpg", quality=90)
    scene(64, 96, 9).save(folder / "trip" / "q.png")
    (folder / "p0.jpg.xmp").write_text(USER_SIDECAR, encoding="utf-8")
    return folder


def test_xmp_write_preview_and_remove(tmp_path, photos, tiny_model_dir):
    data = tmp_path / "data"
    # Threshold 0: every score matches; 1: none does (a probability below 1 never reaches it).
    assert blipdesk(data, "tags", "add", "always & <everywhere>", "a photo",
                    "--threshold", "0").returncode == 0  # fmt: skip
    assert blipdesk(data, "tags", "add", "never", "a dog", "--threshold", "1").returncode == 0
    scan = blipdesk(data, "scan", photos, "--model", tiny_model_dir, "--device", "cpu")
    assert scan.returncode == 0, scan.stderr
    before = digests(photos)

    dry = blipdesk(data, "xmp", photos, "--dry-run", "--model", tiny_model_dir)
    assert dry.returncode == 0, dry.stderr
    assert "4 sidecars would change" in dry.stderr
    assert "+always & <everywhere>" in dry.stdout and "(new sidecar)" in dry.stdout
    assert sorted(p.name for p in photos.rglob("*.xmp")) == ["p0.jpg.xmp"]

    done = blipdesk(data, "xmp", photos, "--model", tiny_model_dir)
    assert done.returncode == 0, done.stderr
    assert "4 sidecars changed" in done.stderr
    for name in ("p0.jpg.xmp", "p1.jpg.xmp", "p2.jpg.xmp", "trip/q.png.xmp"):
        assert read_sidecar(photos / name).blipdesk_tags == ("always & <everywhere>",), name
    user = read_sidecar(photos / "p0.jpg.xmp")
    assert user.subjects == ("grandma", "always & <everywhere>")
    assert 'xmp:Rating="3"' in (photos / "p0.jpg.xmp").read_text()

    again = blipdesk(data, "xmp", photos, "--model", tiny_model_dir)
    assert "0 sidecars changed, 4 unchanged" in again.stderr

    # Lightroom naming, one folder level, and a broken sidecar that is reported and left alone.
    (photos / "p2.xmp").write_text("<not xmp", encoding="utf-8")
    raw = blipdesk(data, "xmp", photos, "--naming", "xmp", "--no-recursive",
                   "--model", tiny_model_dir)  # fmt: skip
    assert raw.returncode == 1
    assert "p2.xmp: not a readable XMP file" in raw.stderr and "2 sidecars changed" in raw.stderr
    assert (photos / "p2.xmp").read_text() == "<not xmp"
    assert read_sidecar(photos / "p1.xmp").blipdesk_tags == ("always & <everywhere>",)
    assert not (photos / "trip" / "q.xmp").exists()
    (photos / "p2.xmp").unlink()

    removed = blipdesk(data, "xmp", photos, "--remove")
    assert removed.returncode == 0, removed.stderr
    assert sorted(p.name for p in photos.rglob("*.xmp")) == ["p0.jpg.xmp"]
    user = read_sidecar(photos / "p0.jpg.xmp")
    assert user.subjects == ("grandma",) and user.hierarchical == user.tags_list == ()
    assert 'xmp:Rating="3"' in (photos / "p0.jpg.xmp").read_text()
    assert digests(photos) == before
