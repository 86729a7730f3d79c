"""The Ray cluster scan on a local Ray (``ray.init(num_cpus=2)``) and the tiny model, through the
CLI: its results, imported, equal a desktop scan; a new tag costs only its (photo, sentence)
pairs; a job killed halfway (SIGKILL) and run again scores no photo twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from blipdesk.core.results import ResultsFile
from tests.helpers.results import assert_same_results, cli, mixed_folder, need, results_of

pytestmark = pytest.mark.slow
ray = need("ray")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def photos(tmp_path):
    return mixed_folder(tmp_path)


@pytest.fixture
def common(tiny_model_dir):
    return ["--model", tiny_model_dir, "--device", "cpu", "--precision", "fp32"]


def tags(data, *pairs):
    for name, sentence in pairs:
        assert cli(data, "tags", "add", name, sentence) == 0


def file_rows(path):
    """{content: sentences} of one results file."""
    with ResultsFile(path) as f:
        out = {}
        for batch in f.batches(["content", "sentences"]):
            for content, sentences in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                out[content] = tuple(sentences or ())
        return out


def test_cluster_scan_equals_a_desktop_scan_and_a_new_tag_costs_only_its_pairs(
    tmp_path, photos, common, tiny_model_dir, local_ray, capsys
):
    desk, driver, laptop, results = (tmp_path / n for n in ("desk", "driver", "laptop", "results"))
    first = [("beach", "a dog on a beach"), ("cake", "birthday cake")]
    tags(desk, *first)
    tags(driver, *first)
    assert cli(desk, "scan", photos, *common) == 0
    capsys.readouterr()
    assert cli(driver, "cluster", "scan", photos, "--results", results, *common,
               "--part-photos", "4") == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "cluster scan done: 11 photos, 9 scored (18 sentence scores), 0 already in" in err
    assert "unreadable: " in err and "broken.jpg" in err
    assert len(list(results.iterdir())) == 3  # 10 distinct photos, 4 per file
    assert cli(laptop, "results", "import", results, "--model", tiny_model_dir) == 0
    assert_same_results(results_of(laptop, tiny_model_dir), results_of(desk, tiny_model_dir))

    # A tag added on the laptop (and the driver): only the new (photo, sentence) pairs.
    new = ("snow", "two children playing in the snow")
    for data in (desk, driver):
        tags(data, new)
    # A fresh pass on the desk too: from its (8-bit) vision cache a new sentence is within ~1e-3.
    assert cli(desk, "scan", photos, *common, "--no-feature-cache") == 0
    before = set(results.iterdir())
    capsys.readouterr()
    assert cli(driver, "cluster", "scan", photos, "--results", results, *common) == 0
    assert "9 scored (9 sentence scores), 1 already in" in capsys.readouterr().err
    [added] = set(results.iterdir()) - before
    rows = file_rows(added)
    assert len(rows) == 9 and set(rows.values()) == {(new[1],)}
    assert cli(laptop, "results", "import", results, "--model", tiny_model_dir) == 0
    assert_same_results(results_of(laptop, tiny_model_dir), results_of(desk, tiny_model_dir))

    capsys.readouterr()  # nothing left to do: the model is never loaded, no file written
    assert cli(driver, "cluster", "scan", photos, "--results", results, *common) == 0
    assert "0 scored (0 sentence scores), 10 already in" in capsys.readouterr().err
    assert set(results.iterdir()) == before | {added}


KILLED_AFTER_FIRST_FILE = textwrap.dedent(
    """
    import os, signal, sys
    import ray
    from blipdesk import app
    from blipdesk.core import cluster

    real = cluster._PartWriter.flush

    def flush_then_die(self):
        real(self)
        if self.written:  # the first results file is written: killed, no cleanup at all
            os.kill(os.getpid(), signal.SIGKILL)

    cluster._PartWriter.flush = flush_then_die
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    sys.exit(app.main(sys.argv[1:]))
    """
)


def test_a_killed_job_resumes_and_scores_no_photo_twice(
    tmp_path, photos, common, tiny_model_dir, local_ray, capsys
):
    desk, driver, laptop, results = (tmp_path / n for n in ("desk", "driver", "laptop", "results"))
    for data in (desk, driver):
        tags(data, ("beach", "a dog on a beach"))
    assert cli(desk, "scan", photos, *common) == 0
    args = ["--data-dir", driver, "cluster", "scan", photos, "--results", results, *common,
            "--part-photos", "3"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    job = subprocess.Popen(
        [sys.executable, "-c", KILLED_AFTER_FIRST_FILE, *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, err = job.communicate(timeout=240)
    finally:
        with contextlib.suppress(ProcessLookupError):  # what it started in its group goes too
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode == -signal.SIGKILL, err.decode(errors="replace")[-2000:]
    [first] = list(results.iterdir())
    done_before = file_rows(first)
    assert len(done_before) == 3

    capsys.readouterr()
    assert cli(driver, "cluster", "scan", photos, "--results", results, *common) == 0
    err = capsys.readouterr().err
    decodable_before = sum(1 for s in done_before.values() if s)  # the broken photo has none
    assert f"{9 - decodable_before} scored" in err and "3 already in" in err
    seen: dict[str, Path] = {}
    for path in results.iterdir():  # every photo in exactly one file: none scored twice
        for content in file_rows(path):
            assert content not in seen, f"{content} is in {seen[content]} and {path}"
            seen[content] = path
    assert len(seen) == 10
    assert cli(laptop, "results", "import", results, "--model", tiny_model_dir) == 0
    assert_same_results(results_of(laptop, tiny_model_dir), results_of(desk, tiny_model_dir))


def test_a_node_without_the_model_fails_in_one_line(tmp_path, photos, tiny_model_dir, local_ray):
    import shutil

    from blipdesk.core.cluster import ClusterOptions, cluster_scan
    from blipdesk.core.engine import model_key
    from blipdesk.core.model import ModelSpec
    from blipdesk.infra.errors import UserError

    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    spec = ModelSpec(str(model))
    key = model_key(spec)  # the driver saw the model; the nodes do not find its weights
    (model / "model.safetensors").unlink()
    with pytest.raises(UserError) as got:
        cluster_scan([photos], ["a dog"], key, spec, tmp_path / "results", ClusterOptions())
    message = str(got.value)
    assert "\n" not in message and "\x1b" not in message
    assert f"The model folder {model} has no weights" in message
    assert "run the same command again" in message
