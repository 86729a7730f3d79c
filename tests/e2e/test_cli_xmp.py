"""``blipdesk xmp`` end to end: tags, a scan on the tiny model, then sidecars previewed, written
and removed, with the photos untouched, a user's own sidecar kept and a broken one reported."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blipdesk.infra.atomic import TEMP_PREFIX
from blipdesk.services.sidecars import read_sidecar, write_tags
from tests.helpers.models import scene

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


@pytest.mark.slow
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


# --- hostile sidecars, signals and leftovers (issue 10) -------------------------------------------


@pytest.mark.slow
def test_xmp_reports_each_hostile_sidecar_and_writes_the_rest(tmp_path, tiny_model_dir):
    """A FIFO, /dev/zero, a 1000-deep document, a name too long for the disk, a read-only file
    and a symlink: each is one line on stderr, the others are written, nothing hangs."""
    folder = tmp_path / "photos"
    folder.mkdir()
    long_name = "x" * 250 + ".jpg"
    names = ["good.jpg", "pipe.jpg", "zero.jpg", "deep.jpg", "locked.jpg", long_name,
             "forged\nfake.jpg: +owned (new sidecar).jpg", "linked.jpg"]  # fmt: skip
    for i, name in enumerate(names):
        scene(48, 32, i).save(folder / name, "JPEG")
    os.mkfifo(folder / "pipe.jpg.xmp")
    (folder / "zero.jpg.xmp").symlink_to("/dev/zero")
    (folder / "deep.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">' + "<a>" * 1000 + "</a>" * 1000 + "</x:xmpmeta>"
    )
    (folder / "locked.jpg.xmp").write_text(USER_SIDECAR, encoding="utf-8")
    (folder / "locked.jpg.xmp").chmod(0o444)
    (tmp_path / "real.xmp").write_text(USER_SIDECAR, encoding="utf-8")
    (folder / "linked.jpg.xmp").symlink_to(tmp_path / "real.xmp")
    data = tmp_path / "data"
    assert blipdesk(data, "tags", "add", "always", "a photo", "--threshold", "0").returncode == 0
    scan = blipdesk(data, "scan", folder, "--model", tiny_model_dir, "--device", "cpu")
    assert scan.returncode == 0, scan.stderr
    # An older blipdesk accepted U+FFFE in a name; tags add refuses it now (see below).
    with sqlite3.connect(data / "library.sqlite3") as db:
        tid = db.execute("INSERT INTO tags(name, threshold) VALUES ('bad\ufffe', 0)").lastrowid
        db.execute("INSERT INTO tag_sentences(tag_id, position, text) VALUES (?, 0, 'x')", (tid,))
    db.close()

    for args in (["--dry-run"], [], ["--remove"]):
        run = blipdesk(data, "xmp", folder, *args, "--model", tiny_model_dir)
        assert run.returncode == 1, (args, run.stderr)
        assert "Traceback" not in run.stderr and "internal error" not in run.stderr
        err = run.stderr
        assert "pipe.jpg.xmp: not a regular file" in err, args
        assert "zero.jpg.xmp (a link to /dev/zero): not a regular file" in err, args
        assert "deep.jpg.xmp: nested more than" in err, args
        # Every stdout line names one sidecar of this folder; the newline is shown escaped.
        for line in run.stdout.splitlines():
            assert line.startswith((str(folder), repr(str(folder))[0])), line
        if args != ["--remove"]:
            assert "bad\\ufffe' left out of every sidecar: it holds U+FFFE" in err
            assert "locked.jpg.xmp: read-only; left alone" in err
            assert "the name is too long" in err
            assert "forged\\nfake.jpg: +owned (new sidecar).jpg.xmp" in run.stdout
        if not args:
            assert read_sidecar(folder / "good.jpg.xmp").blipdesk_tags == ("always",)
            assert (folder / "linked.jpg.xmp").is_symlink()
            assert read_sidecar(tmp_path / "real.xmp").blipdesk_tags == ("always",)
    assert not (folder / "good.jpg.xmp").exists()
    assert (tmp_path / "real.xmp").read_text(encoding="utf-8") == USER_SIDECAR
    assert (folder / "locked.jpg.xmp").read_text(encoding="utf-8") == USER_SIDECAR


def test_tags_add_refuses_names_no_sidecar_can_hold(tmp_path):
    data = tmp_path / "data"
    bad = blipdesk(data, "tags", "add", "odd\ufffename", "a photo")
    assert bad.returncode == 1 and "U+FFFE" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert blipdesk(data, "tags", "add", "cats|dogs").returncode == 0
    clash = blipdesk(data, "tags", "add", "cats¦dogs")
    assert clash.returncode == 1 and "exactly like the tag 'cats|dogs'" in clash.stderr


def _user_sidecars(folder: Path, count: int) -> None:
    """``count`` photos whose sidecars hold the user's keyword and blipdesk's."""
    folder.mkdir()
    (folder / "p0000.jpg").write_bytes(b"x")
    write_tags(folder / "p0000.jpg", ["dog"])
    text = (folder / "p0000.jpg.xmp").read_bytes()
    for i in range(count):
        (folder / f"p{i:04}.jpg").write_bytes(b"x")
        (folder / f"p{i:04}.jpg.xmp").write_bytes(text.replace(b"<rdf:li>dog", b"<rdf:li>cat"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_xmp_cleanly(tmp_path, signum):
    folder = tmp_path / "photos"
    _user_sidecars(folder, 600)
    before = {p: p.read_bytes() for p in folder.glob("*.xmp")}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "blipdesk", "--data-dir", str(tmp_path / "data"), "xmp",
         str(folder), "--remove"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if any(p.read_bytes() != before[p] for p in list(before)[:50]):
            break  # it is writing
        time.sleep(0.005)
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 130), err
    if proc.returncode == 130:
        assert b"stopped" in err
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left
    for path, data in before.items():  # each sidecar is either untouched or done
        assert path.read_bytes() == data or read_sidecar(path).blipdesk_tags == ()


def test_the_run_after_a_kill_9_removes_its_temporary_and_nothing_else(tmp_path):
    folder = tmp_path / "photos"
    _user_sidecars(folder, 2)
    # A writer killed between writing its temporary file and renaming it.
    hang = (
        "import os, sys, time\n"
        "from blipdesk.services import sidecars\n"
        "os.replace = lambda *a: time.sleep(600)\n"
        f"sidecars.write_tags({str(folder / 'p0001.jpg')!r}, [])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", hang], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not list(folder.glob(f"{TEMP_PREFIX}*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    (leftover,) = folder.glob(f"{TEMP_PREFIX}*")
    theirs = [folder / ".p0000.jpg.xmp.tmp", folder / f"{TEMP_PREFIX}notes.txt"]
    for path in theirs:
        path.write_text("not blipdesk's")
    run = blipdesk(tmp_path / "data", "xmp", folder, "--remove")
    assert run.returncode == 0, run.stderr
    assert f"removed {leftover}" in run.stderr
    assert not leftover.exists() and all(p.exists() for p in theirs)
