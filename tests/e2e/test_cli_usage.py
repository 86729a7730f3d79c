"""Issue 14, items 13 and 14: the first command without a display, and each command's usage.

Parsing needs no model: most checks call ``build_parser`` in-process; the ones about what a
person sees from the shell run ``python -m blipdesk`` in a subprocess."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blipdesk import app, cli
from blipdesk.cli import args as cli_args
from blipdesk.cli.context import Context
from tests.e2e.test_cli import ROOT, blipdesk


def parse(capsys, *args: str) -> tuple[int, str]:
    """(exit code, stderr) of a command line that argparse refuses."""
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(list(args))
    return int(stop.value.code or 0), capsys.readouterr().err


def all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from all_parsers(child)


# ----------------------------------------------------------------------------------- item 13


def _no_display_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    return env


def _free_x_display() -> str:
    n = next(n for n in range(700, 800) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    return f":{n}"


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="X11/Wayland systems only")
@pytest.mark.parametrize("display", [None, "free"])
def test_the_app_without_a_display_says_so_in_one_line(tmp_path, display):
    env = _no_display_env()
    if display:
        env["DISPLAY"] = _free_x_display()  # set, but no X server answers there
    result = subprocess.run(
        [sys.executable, "-m", "blipdesk", "--data-dir", str(tmp_path / "data"), str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    expected = "no X server answers at DISPLAY=" if display else "no display found"
    assert expected in lines[0] and "window cannot open" in lines[0]
    for command in cli.command_names(cli.build_parser()):
        assert command in lines[0]
    assert "Reinstalling" not in result.stderr and "Aborted" not in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


@pytest.mark.parametrize(
    "env, usable",
    [
        ({}, False),
        ({"QT_QPA_PLATFORM": "offscreen"}, True),
        ({"QT_QPA_PLATFORM": "minimal"}, True),
        ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, True),
        ({"QT_QPA_PLATFORM": "xcb"}, False),
        ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, False),  # Wayland asked, none there
        ({"DISPLAY": "photohost:0"}, True),  # remote X: Qt decides
        ({"DISPLAY": "__free__"}, False),
    ],
)
def test_display_problem_knows_the_platforms(env, usable):
    env = {k: _free_x_display() if v == "__free__" else v for k, v in env.items()}
    problem = app.display_problem(env, platform="linux")
    assert (problem is None) == usable, problem
    assert app.display_problem({}, platform="darwin") is None
    assert app.display_problem({}, platform="win32") is None


# ----------------------------------------------------------------------------------- item 14


@pytest.mark.parametrize(
    "args, prog",
    [
        (["scan"], "blipdesk scan"),
        (["scan", ".", "--top", "3"], "blipdesk scan"),
        (["search", "a dog"], "blipdesk search"),
        (["export", ".", "--format", "xml"], "blipdesk export"),
        (["xmp", ".", "--naming", "x"], "blipdesk xmp"),
        (["explain", "photo.jpg"], "blipdesk explain"),
        (["tags"], "blipdesk tags"),
        (["tags", "add"], "blipdesk tags add"),
        (["tags", "add", "dog", "--threshold", "abc"], "blipdesk tags add"),
        (["tags", "remove"], "blipdesk tags remove"),
    ],
)
def test_each_command_errors_with_its_own_usage(capsys, args, prog):
    code, err = parse(capsys, *args)
    assert code == 2
    assert err.startswith(f"usage: {prog} "), err
    assert f"\n{prog}: error: " in err
    assert "{tags,scan" not in err and "| blipdesk" not in err  # not the top-level usage


def test_each_command_help_starts_with_its_own_usage(capsys):
    for command in cli.command_names(cli.build_parser()):
        code, out = 0, ""
        with pytest.raises(SystemExit) as stop:
            cli.build_parser().parse_args([command, "--help"])
        code, out = int(stop.value.code or 0), capsys.readouterr().out
        assert code == 0 and out.startswith(f"usage: blipdesk {command} "), out


@pytest.mark.parametrize(
    "args, says",
    [
        (["tags", "add", "dog", "--threshold", "abc"], "'abc' is not a number"),
        (["tags", "add", "dog", "--threshold", "nan"], "'nan' is not between 0 and 1"),
        (["search", "dog", ".", "--top", "abc"], "'abc' is not a whole number"),
        (["search", "dog", ".", "--top", "0"], "'0' is too small"),
        (["scan", ".", "--batch-size", "many"], "'many' is not a whole number"),
        (["scan", ".", "--batch-size", "-1"], "'-1' is negative"),
        (["scan", ".", "--batch-size", "5000"], "'5000' is too large"),
        (["explain", "p.jpg", "dog", "--layer", "x"], "'x' is not a whole number"),
    ],
)
def test_type_errors_read_as_sentences(capsys, args, says):
    code, err = parse(capsys, *args)
    assert code == 2 and says in err, err
    last = err.strip().splitlines()[-1]
    assert "invalid" not in last and "_" not in last.split("argument ")[-1], last  # no fn names


@pytest.mark.parametrize(
    "args, says",
    [
        (["--device", "tpu"], "unknown device 'tpu': choose auto, cpu, cuda, cuda:N or mps"),
        (["--device", "cuda:x"], "unknown device 'cuda:x'"),
        (["--precision", "fp64"], "unknown precision 'fp64': choose auto, fp32, bf16 or fp16"),
    ],
)
def test_device_and_precision_are_checked_before_anything_runs(tmp_path, args, says):
    folder = tmp_path / "photos"
    folder.mkdir()
    data = tmp_path / "data"
    result = blipdesk(data, "scan", folder, *args)
    assert result.returncode == 2 and says in result.stderr, result.stderr
    assert not data.exists()  # refused at parse time: no cache, no model, no torch


def test_a_device_this_machine_lacks_is_refused_before_the_photos_are_read(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal needs one without it")
    folder = tmp_path / "photos"
    folder.mkdir()
    data = tmp_path / "data"
    result = blipdesk(data, "scan", folder, "--device", "cuda:0", "--model", tmp_path)
    assert result.returncode == 1 and "CUDA was requested" in result.stderr, result.stderr
    assert "loading the model" not in result.stderr
    assert not (data / "library.sqlite3").exists()


def test_a_mistyped_command_is_answered_with_the_one_meant(capsys):
    code, err = parse(capsys, "sacn", "/nonexistent")
    assert code == 2 and "unknown command 'sacn'; did you mean 'scan'?" in err
    code, err = parse(capsys, "tags", "lst")
    assert code == 2 and err.startswith("usage: blipdesk tags ")
    assert "unknown command 'lst'; did you mean 'list'?" in err and "tags_command" not in err


def test_device_and_precision_choices_are_listed_in_help_and_match_the_core(capsys):
    from blipdesk.core import device

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["scan", "--help"])
    out = capsys.readouterr().out
    assert "--device {auto,cpu,cuda,cuda:N,mps}" in out
    assert "--precision {auto,fp32,bf16,fp16}" in out
    assert cli_args.DEVICES == device.DEVICE_CHOICES
    assert ("auto", *device.PRECISIONS) == cli_args.PRECISIONS
    for text in ("auto", "CPU", " cuda ", "cuda:1", "mps"):
        cli_args.device(text)  # the parser lets through what the core understands
    for text in ("tpu", "cuda:", "cuda:-1", "gpu", "cpu:0", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            cli_args.device(text)
        with pytest.raises(device.DeviceError):
            device.resolve_placement(text or "?")  # and the core refuses the same


def test_every_option_has_help_text():
    missing = [
        f"{p.prog} {'/'.join(a.option_strings)}"
        for p in all_parsers(cli.build_parser())
        for a in p._actions
        if a.option_strings and not a.help and a.help != argparse.SUPPRESS
    ]
    assert missing == []


def test_data_dir_and_verbose_go_before_or_after_the_command(tmp_path):
    parser = cli.build_parser()
    folder = str(tmp_path)
    before = parser.parse_args(["--data-dir", "A", "-v", "scan", folder])
    after = parser.parse_args(["scan", folder, "--data-dir", "B", "-v"])
    nested = parser.parse_args(["tags", "list", "--data-dir", "C"])
    kept = parser.parse_args(["--data-dir", "D", "tags", "list", "--json"])
    neither = parser.parse_args(["tags", "list"])
    assert (before.data_dir, after.data_dir, nested.data_dir, kept.data_dir) == tuple("ABCD")
    assert before.verbose == after.verbose == 1 and neither.data_dir is None
    # From the shell: a tag added with --data-dir after the command is listed with it before.
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    added = subprocess.run(
        [sys.executable, "-m", "blipdesk", "tags", "add", "dog", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = blipdesk(data, "tags", "list")
    assert listed.stdout.startswith("dog\t"), listed.stderr


def test_batch_size_zero_is_automatic_even_over_a_setting(tmp_path):
    from blipdesk.services.settings import Settings, SettingsFile

    data = tmp_path / "data"
    data.mkdir()
    SettingsFile(data / "settings.json").save(Settings(batch_size=16))
    parser = cli.build_parser()
    auto = parser.parse_args(["--data-dir", str(data), "scan", str(tmp_path), "--batch-size", "0"])
    plain = parser.parse_args(["--data-dir", str(data), "scan", str(tmp_path)])
    assert auto.batch_size == 0
    assert Context(auto).options().batch_size == 0  # automatic, by device
    assert Context(plain).options().batch_size == 16  # the setting


def test_help_never_imports_torch():
    code = (
        "import sys\nfrom blipdesk import app\n"
        "for args in (['--help'], ['scan', '--help'], ['tags', 'add', '--help']):\n"
        "    try:\n        app.main(args)\n    except SystemExit:\n        pass\n"
        "sys.exit('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True)
    assert result.returncode == 0, result.stderr
