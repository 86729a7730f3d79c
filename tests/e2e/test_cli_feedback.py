"""Issue 14, items 15 and 16: the CLI says what it is doing, and what is missing.

Real subprocesses (``python -m blipdesk``, stderr not a terminal) on the tiny random model; the
steady progress pace is checked on ``ProgressPrinter`` with a fake clock (no timing asserts)."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from blipdesk.cli.progress import ProgressPrinter
from blipdesk.core.engine import ScanOptions, ScanProgress, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.domain import Tag
from blipdesk.store import Library
from tests.e2e.test_cli import ROOT, blipdesk
from tests.helpers.models import make_awkward_photos, scene

SUMMARY = re.compile(r"^scan (done|stopped): (\d+) photos?: (.*); [\d.]+ s", re.M)


def summary_counts(stderr: str) -> tuple[int, dict[str, int]]:
    """(photos, {what: count}) from the scan's last line."""
    match = SUMMARY.search(stderr)
    assert match, stderr
    parts = {}
    for part in match.group(3).split(", "):
        n, what = part.split(" ", 1)
        parts[re.sub(r" \(.*\)$", "", what)] = int(n)
    return int(match.group(2)), parts


def awkward_library(folder: Path) -> Path:
    """Rotated, CMYK, 16-bit, huge (6000x4000) and ordinary photos, a copy, a truncated JPEG,
    a text file named .jpg and a FIFO."""
    make_awkward_photos(folder)
    scene(6000, 4000, 7).save(folder / "huge.jpg", quality=80)
    scene(120, 90, 8).save(folder / "ordinary.jpg")
    (folder / "copy of ordinary.jpg").write_bytes((folder / "ordinary.jpg").read_bytes())
    data = (folder / "ordinary.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "notes.jpg").write_text("not a photo")
    os.mkfifo(folder / "pipe.jpg")
    return folder


# ----------------------------------------------------------------------------------- item 15


@pytest.mark.slow
def test_scan_says_it_loads_the_model_warns_about_fp16_and_ends_with_done(tmp_path, tiny_model_dir):
    folder = awkward_library(tmp_path / "photos")
    data = tmp_path / "data"
    assert blipdesk(data, "tags", "add", "dog").returncode == 0
    result = blipdesk(data, "scan", folder, "--model", tiny_model_dir, "--device", "cpu",
                      "--precision", "fp16", "--batch-size", "0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    loading = next(i for i, s in enumerate(lines) if "loading the model" in s)
    assert lines[loading].endswith(f"{tiny_model_dir} (cpu, fp16)…")
    # next: "model loaded in …" (a slow load says it is still loading every 10 s meanwhile)
    after = [s for s in lines[loading + 1 :] if not s.startswith("scan: loading the model, ")]
    assert "model loaded in" in after[0]
    warning = next(i for i, s in enumerate(lines) if "fp16 on the CPU is slower" in s)
    assert warning < loading
    progress = [s for s in lines if s.startswith("scan: ") and "photos to score" in s]
    assert progress and loading < lines.index(progress[0])
    assert lines[-1].startswith("scan done: ")  # nothing after "done"

    # Progress counts unreadable photos as the summary does (the FIFO is known before scoring).
    _photos, parts = summary_counts(result.stderr)
    assert progress[-1].split(", ")[-2] == f"{parts['unreadable']} unreadable"
    assert parts["unreadable"] == 3  # truncated, notes, pipe

    # All cached: no model, no loading line, and no fp16 warning (nothing runs in fp16).
    again = blipdesk(data, "scan", folder, "--device", "cpu", "--precision", "fp16")
    assert again.returncode == 0 and "loading the model" not in again.stderr
    assert "fp16 on the CPU" not in again.stderr and "model not loaded" in again.stderr


def test_progress_lines_come_at_a_steady_pace():
    now = [0.0]
    out = io.StringIO()
    printer = ProgressPrinter("scan", interval=10, stream=out, clock=lambda: now[0], tty=False)

    def at(t: float, done: int | None = None, total: int = 100) -> None:
        now[0] = t
        if done is None:
            printer.tick()
        else:
            printer(ScanProgress(done, total, 1, done / max(t, 1), 5.0))

    printer.note("loading the model")
    for t in range(0, 10):  # nothing printed for less than an interval
        at(t)
    at(10)  # a whole interval without a photo done: a line saying what it is doing
    at(12, 1)  # the first progress: at once
    for t in range(13, 22):  # photos every second: at most one line per interval
        at(t, t - 12)
    at(22, 10)
    for t in range(23, 33):  # a long batch: the timer repeats the state
        at(t)
    at(40, 100)  # the last one: always
    lines = out.getvalue().splitlines()
    assert lines[0] == "scan: loading the model, 10 s"
    assert lines[1].startswith("scan: 1/100 photos to score, ") and lines[1].endswith(", 12 s")
    assert lines[2].startswith("scan: 10/100 ") and lines[2].endswith(", 22 s")
    assert lines[3].startswith("scan: 10/100 ") and lines[3].endswith(", 32 s")
    assert lines[4].startswith("scan: 100/100 ") and "ETA" not in lines[4]
    assert len(lines) == 5


def test_the_process_ends_as_soon_as_its_last_line_is_out(monkeypatch, tmp_path, capsys):
    """``blipdesk`` (no argv given) skips the interpreter's teardown once torch is loaded,
    after flushing what it printed; called with argv (tests, embedding) it returns."""
    import torch  # noqa: F401  # loaded, as after a scan

    from blipdesk import app

    ended: list[int] = []

    class Ended(Exception):
        pass

    def fake_exit(code: int) -> None:
        ended.append(code)
        raise Ended

    monkeypatch.setattr(app.os, "_exit", fake_exit)
    data = str(tmp_path / "data")
    monkeypatch.setattr(sys, "argv", ["blipdesk", "--data-dir", data, "tags", "add", "dog"])
    with pytest.raises(Ended):
        app.main()
    assert ended == [0] and "added tag 'dog'" in capsys.readouterr().out
    assert app.main(["--data-dir", data, "tags", "list"]) == 0 and ended == [0]


# ----------------------------------------------------------------------------------- item 16


def run_hint(hint_line: str) -> subprocess.CompletedProcess:
    """Run the command a hint names, exactly as printed (the part after the last ': ')."""
    command = shlex.split(hint_line.rsplit(": ", 1)[1])
    assert command[0] == "blipdesk"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "blipdesk", *command[1:]],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.slow
def test_export_and_xmp_say_what_is_not_scanned_and_how_to_scan_it(tmp_path, tiny_model_dir):
    folder = tmp_path / "my photos"
    folder.mkdir()
    for i in range(3):
        scene(64, 48, i).save(folder / f"p{i}.jpg")
    data = tmp_path / "data"
    model = ("--model", tiny_model_dir)

    # No tags, never scanned.
    empty = blipdesk(data, "tags", "list")
    assert empty.returncode == 0 and empty.stdout == ""
    assert "no tags yet; add one with: blipdesk --data-dir" in empty.stderr
    assert f"{data} tags add NAME" in empty.stderr
    for command in ("export", "xmp"):
        result = blipdesk(data, command, folder, *model)
        assert result.returncode == 0, result.stderr
        assert "there are no tags yet" in result.stderr
        hint = next(s for s in result.stderr.splitlines() if "not scanned yet" in s)
        assert "3 photos under" in hint and shlex.quote(str(folder)) in hint
    assert json.loads(blipdesk(data, "export", folder, *model).stdout)["photos"] == []

    # The model is not on this machine and nothing is scanned: say both, and the command.
    absent = blipdesk(data, "export", folder, "--model", tmp_path / "no-model")
    assert absent.returncode == 1 and "Nothing is scanned with" in absent.stderr
    assert "scan first (blipdesk --data-dir" in absent.stderr

    # The command the hint names does the job: then nothing is missing.
    assert blipdesk(data, "tags", "add", "dog").returncode == 0
    result = blipdesk(data, "export", folder, *model)
    hint = next(s for s in result.stderr.splitlines() if "not scanned yet" in s)
    assert run_hint(hint).returncode == 0
    done = blipdesk(data, "export", folder, *model)
    assert done.stderr == "" and len(json.loads(done.stdout)["photos"]) == 3

    # A tag added (or a sentence added to one) after the scan.
    assert blipdesk(data, "tags", "add", "cat").returncode == 0
    assert blipdesk(data, "tags", "add", "dog", "dog", "a puppy").returncode == 0
    for command in ("export", "xmp"):
        result = blipdesk(
            data, command, folder, *model, *(["--dry-run"] if command == "xmp" else [])
        )
        hint = next(s for s in result.stderr.splitlines() if "not scored yet" in s)
        assert "'cat' on 3 of 3 photos" in hint and "'dog' on 3 of 3 photos" in hint, hint
    assert run_hint(hint).returncode == 0
    assert blipdesk(data, "export", folder, *model).stderr == ""
    assert blipdesk(data, "xmp", folder, "--dry-run", *model).stderr.count("\n") == 1  # summary


@pytest.mark.slow
def test_scan_counts_add_up(tmp_path, tiny_model_dir):
    folder = awkward_library(tmp_path / "photos")
    data = tmp_path / "data"
    assert blipdesk(data, "tags", "add", "dog").returncode == 0
    first = blipdesk(data, "scan", folder, "--model", tiny_model_dir, "--batch-size", "3")
    assert first.returncode == 0, first.stderr
    photos, parts = summary_counts(first.stderr)
    files = [p for p in folder.iterdir() if p.suffix in (".jpg", ".png", ".tif")]
    assert photos == len(files) and sum(parts.values()) == photos, first.stderr
    assert parts["duplicate"] == 1 and parts["unreadable"] == 3

    # A new photo and a new tag: everything is scored again for the tag; a new file only once.
    scene(80, 60, 11).save(folder / "new.png")
    assert blipdesk(data, "tags", "add", "cat").returncode == 0
    second = blipdesk(data, "scan", folder)
    photos2, parts2 = summary_counts(second.stderr)
    assert photos2 == photos + 1 and sum(parts2.values()) == photos2, second.stderr
    third = blipdesk(data, "scan", folder)
    photos3, parts3 = summary_counts(third.stderr)
    assert parts3 == {"scored": 0, "already scored": photos3 - 3, "unreadable": 3}, third.stderr


def test_a_stopped_scan_counts_what_it_left(tmp_path, tiny_scorer, tiny_model_dir):
    """photos = scored + copies + already scored + unreadable + left for the next scan."""
    import threading

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        scene(40, 30, i).save(folder / f"{i}.png")
    (folder / "bad.png").write_bytes(b"nope")
    key = model_key(ModelSpec(str(tiny_model_dir)))
    cancel = threading.Event()

    def stop_after_first(_progress) -> None:
        cancel.set()

    options = ScanOptions(batch_size=2, use_processes=False, decode_workers=1)
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.put_tag(Tag("dog", ("dog",)))
        summary = scan(
            lib, [folder], ("dog",), key, lambda: tiny_scorer, options, stop_after_first,
            None, cancel,
        )  # fmt: skip
    assert summary.cancelled and summary.not_reached > 0
    total = summary.scored + summary.copies + summary.cached + len(summary.failures)
    assert total + summary.not_reached == summary.photos == 9


@pytest.mark.parametrize(
    "name", ["plain", "my photos", "it's", "MY PHOTOS", "a\nb", "caf\udce9 \x1b[31m", "$HOME `x`"]
)
def test_a_hint_command_is_one_line_that_the_shell_reads_back(name):
    """The folder in a printed command comes back byte for byte from bash, whatever its name."""
    import argparse
    import shutil

    from blipdesk.cli.context import command

    if shutil.which("bash") is None:
        pytest.skip("no bash here")
    hint = command(argparse.Namespace(data_dir="/d a/ta"), "scan", name)
    assert "\n" not in hint and hint.isprintable()
    assert hint.startswith("blipdesk --data-dir '/d a/ta' scan ")
    script = "printf '%s\\0' " + hint.removeprefix("blipdesk ")
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True).stdout
    assert out.split(b"\0")[:-1] == [b"--data-dir", b"/d a/ta", b"scan", os.fsencode(name)]
