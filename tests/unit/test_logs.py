"""One logging setup for the window and the CLI (blipdesk/logs.py): a rotating log file in the data
folder, ``-v`` on stderr, internal errors logged with their traceback instead of printed."""

from __future__ import annotations

import argparse
import logging

import pytest

from blipdesk import cli
from blipdesk.infra import logs


@pytest.fixture(autouse=True)
def _restore_logging():
    level = logging.getLogger().level
    yield
    logs.setup_logging(None)
    logging.getLogger().setLevel(level)


def test_the_log_file_rotates_and_keeps_three_old_files(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    log_file = tmp_path / "blipdesk.log"
    logs.setup_logging(log_file)
    for i in range(400):
        logging.getLogger("blipdesk.test").info("line %d %s", i, "x" * 40)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["blipdesk.log", "blipdesk.log.1", "blipdesk.log.2", "blipdesk.log.3"]
    assert all(p.stat().st_size <= 2_000 for p in tmp_path.iterdir())
    assert "line 399" in log_file.read_text(encoding="utf-8")


def test_an_unwritable_log_never_breaks_the_caller(tmp_path, capsys):
    logs.setup_logging(tmp_path / "missing" / "blipdesk.log")
    logging.getLogger("blipdesk.test").error("cannot be written")
    assert logs.log_file_written() is None
    assert capsys.readouterr().err == ""


def test_setting_up_twice_replaces_the_handlers(tmp_path):
    root = logging.getLogger()
    before = len(root.handlers)
    logs.setup_logging(tmp_path / "a.log", stderr_level=logging.WARNING)
    logs.setup_logging(tmp_path / "b.log", stderr_level=logging.WARNING)
    assert len(root.handlers) == before + 2


def _namespace(tmp_path, handler, verbose=0):
    return argparse.Namespace(
        handler=handler, command="scan", data_dir=str(tmp_path), verbose=verbose
    )


def _boom(ns, ctx):
    raise RuntimeError("a bug")


def test_an_internal_error_goes_to_the_log_file_with_its_traceback(tmp_path, capsys):
    assert cli.run(_namespace(tmp_path, _boom)) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    log_file = tmp_path / "blipdesk.log"
    assert "internal error" in err and str(log_file) in err
    assert "Traceback" not in err and err.count("\n") == 1
    text = log_file.read_text(encoding="utf-8")
    assert "internal error in blipdesk scan" in text and "Traceback" in text and "a bug" in text


def test_verbose_logs_progress_and_tracebacks_to_stderr(tmp_path, capsys):
    def handler(ns, ctx):
        logging.getLogger("blipdesk.core").info("loading the model")
        logging.getLogger("blipdesk.core").debug("a detail")
        return 0

    assert cli.run(_namespace(tmp_path, handler, verbose=1)) == 0
    err = capsys.readouterr().err
    assert "INFO blipdesk.core: loading the model" in err and "a detail" not in err

    assert cli.run(_namespace(tmp_path, handler, verbose=2)) == 0
    assert "DEBUG blipdesk.core: a detail" in capsys.readouterr().err

    assert cli.run(_namespace(tmp_path, _boom, verbose=1)) == cli.EXIT_ERROR
    assert "Traceback" in capsys.readouterr().err


def test_quiet_commands_keep_warnings_on_stderr_and_info_in_the_file(tmp_path, capsys):
    def handler(ns, ctx):
        logging.getLogger("blipdesk.core").info("quiet progress")
        logging.getLogger("blipdesk.core").warning("something to know")
        return 0

    assert cli.run(_namespace(tmp_path, handler)) == 0
    assert capsys.readouterr().err == "something to know\n"
    assert "quiet progress" in (tmp_path / "blipdesk.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(("argv", "verbose"), [(["tags", "list"], 0), (["-vv", "tags", "list"], 2)])
def test_the_command_line_takes_verbose(argv, verbose):
    assert cli.build_parser().parse_args(argv).verbose == verbose


def test_an_internal_error_before_the_data_folder_exists_still_reaches_the_log(tmp_path, capsys):
    data = tmp_path / "not-yet"
    ns = argparse.Namespace(handler=_boom, command="tags", data_dir=str(data), verbose=0)
    assert cli.run(ns) == cli.EXIT_ERROR
    assert str(data / "blipdesk.log") in capsys.readouterr().err
    assert "Traceback" in (data / "blipdesk.log").read_text(encoding="utf-8")


def test_the_window_uses_the_same_setup():
    application = pytest.importorskip("blipdesk.qt.application")
    assert application.setup_logging is logs.setup_logging
