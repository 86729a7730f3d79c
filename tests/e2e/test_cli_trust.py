"""Issue 24 items 12, 18, 20, 21 and 22 through the real CLI (none needs the model): a closed
pipe ends quietly, errors blame what failed (not the data folder), text from files is printed
escaped, bad Ray addresses are one line, and the smaller usage fixes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from blipdesk import cli
from tests.e2e.test_cli import ROOT, blipdesk


def _one_line(got: subprocess.CompletedProcess) -> str:
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1, got.stderr
    assert "Traceback" not in got.stderr and "internal error" not in got.stderr, got.stderr
    return lines[0]


def _with_tags(tmp_path, n: int = 50):
    data = tmp_path / "data"
    for i in range(n):
        assert blipdesk(data, "tags", "add", f"tag{i}", f"a photo of thing {i}").returncode == 0
    return data


# ----------------------------------------------------------------------------------- item 20


@pytest.mark.parametrize("args", [["tags", "list"], ["tags", "list", "--json"], ["--help"]])
def test_a_closed_pipe_ends_quietly(tmp_path, args):
    data = _with_tags(tmp_path, 3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "blipdesk", "--data-dir", str(data), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before the first line is written (| head -0)
    with child.stderr:
        err = child.stderr.read().decode()
    code = child.wait(timeout=60)
    assert code in (0, 141), err
    assert err == "", err


def test_a_full_output_is_not_blamed_on_the_data_folder(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    data = _with_tags(tmp_path, 3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open("/dev/full", "wb") as full:
        got = subprocess.run(
            [sys.executable, "-m", "blipdesk", "--data-dir", str(data), "tags", "list"],
            stdout=full, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=60,
        )  # fmt: skip
    assert got.returncode == 1
    line = _one_line(got)
    assert (
        "no space left" in line.lower() and "data folder" not in line and "--data-dir" not in line
    )


# ----------------------------------------------------------------------------------- item 12


def test_tag_names_and_sentences_from_an_older_cache_are_printed_escaped(tmp_path):
    data = _with_tags(tmp_path, 1)
    conn = sqlite3.connect(data / "library.sqlite3")
    with conn:  # as an older blipdesk, or a hand-edited cache, left them
        conn.execute("UPDATE tags SET name=? WHERE name='tag0'", ("evil\x1b[2J\nscan done",))
        conn.execute("UPDATE tag_sentences SET text=?", ("a dog\x1b]0;title\x07",))
    conn.close()
    got = blipdesk(data, "tags", "list")
    assert got.returncode == 0, got.stderr
    assert "\x1b" not in got.stdout and "\x07" not in got.stdout
    assert got.stdout.splitlines() == ["evil\\x1b[2J\\nscan done\t0.5\ta dog\\x1b]0;title\\x07"]


def test_a_user_error_quoting_a_name_is_one_escaped_line(tmp_path):
    got = blipdesk(tmp_path / "data", "explain", tmp_path / "gone\x1b[2J\nx.jpg", "a dog")
    assert got.returncode == 1
    assert "\x1b" not in _one_line(got) and "gone\\x1b[2J\\nx.jpg" in got.stderr


# ----------------------------------------------------------------------------------- item 18, 22


@pytest.mark.parametrize("args", [["similar", "{photo}", "{folder}"], ["tags", "calibrate", "dog"]])
def test_reading_commands_on_a_fresh_data_folder_say_to_scan_first(tmp_path, args):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "p.jpg"
    photo.write_bytes(b"not really")
    data = tmp_path / "data"
    assert blipdesk(data, "tags", "add", "dog").returncode == 0
    words = [a.format(photo=photo, folder=folder) for a in args]
    got = blipdesk(data, *words, "--model", "nobody/no-such-model")
    assert got.returncode == 1
    line = _one_line(got)
    assert "no scores to read" in line and "scan first" in line, line
    assert "nothing to similar" not in line and "nothing to tags" not in line


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_search_and_explain_refuse_an_empty_sentence(tmp_path, capsys, text):
    for command in (["search", text, str(tmp_path)], ["explain", str(tmp_path), text]):
        with pytest.raises(SystemExit) as stop:
            cli.build_parser().parse_args(command)
        assert stop.value.code == 2
        assert "SENTENCE: is empty" in capsys.readouterr().err


def test_explain_says_an_unreadable_photo_before_loading_the_model(tmp_path):
    photo = tmp_path / "broken.jpg"
    photo.write_bytes(b"\xff\xd8\xff garbage")
    got = blipdesk(tmp_path / "data", "explain", photo, "a dog", "--model", "nobody/no-model")
    assert got.returncode == 1
    line = _one_line(got)
    assert str(photo) in line and "model" not in line and "loading" not in got.stderr


def test_explain_help_lists_no_scan_only_options(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["explain", "--help"])
    shown = capsys.readouterr().out
    assert "--model" in shown and "--device" in shown and "--precision" in shown
    for scan_only in ("--batch-size", "--no-recursive", "--feature-budget", "--feature-format"):
        assert scan_only not in shown


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("lst", "tags list"), ("sacn", "scan"), ("exprot", "export"), ("simlar", "similar")],
)
def test_a_mistyped_command_gets_the_closest_one(capsys, typed, meant):
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args([typed])
    assert stop.value.code == 2
    assert f"did you mean {meant!r}?" in capsys.readouterr().err


def test_a_word_like_no_command_gets_no_guess(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["xyzzy"])
    assert "did you mean" not in capsys.readouterr().err


# ----------------------------------------------------------------------------------- item 21


@pytest.mark.parametrize(
    "address", ["nonsense addr", "ray://", "auto:x", "host:99999", "ray://host", "http://h:1"]
)
def test_a_malformed_ray_address_is_one_line(tmp_path, address):
    folder = tmp_path / "photos"
    folder.mkdir()
    got = blipdesk(tmp_path / "data", "cluster", "scan", folder, "--results", tmp_path / "r",
                   "--address", address, "--model", "nobody/no-model")  # fmt: skip
    assert got.returncode == 1
    line = _one_line(got)
    assert "is not a Ray address" in line and "ray://HOST:PORT" in line
    assert not (tmp_path / "r").exists()
