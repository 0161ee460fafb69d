"""The training scale benchmark (benchmarks/training_scale.py) runs end to end on a tiny portfolio,
one process and torchrun with two, so the script cannot rot: its figures come from the real job."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.benchmark, pytest.mark.slow]

RUN_KEYS = {"procs", "wall_s", "startup_s", "survey_s", "train_s", "epoch_s", "rows_stepped_per_proc",
            "rows_per_s_per_proc", "rows_per_s_total", "peak_rss_mib_max", "peak_rss_mib_per_proc"}


def test_training_scale_benchmark_prints_every_figure(tmp_path) -> None:
    rows = 20_000

    def bench(*procs: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "benchmarks.training_scale", "--sizes", str(rows), "--procs", *procs,
                               "--epochs", "2", "--files", "2", "--row-group-rows", "4096", "--data-dir", str(tmp_path)],
                              capture_output=True, text=True, cwd=REPO, timeout=600)

    done = bench("1", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["epochs"] == 2 and result["device"] == "cpu"
    [size] = result["sizes"]
    assert size["rows"] == rows and size["generate_s"] > 0
    assert [r["procs"] for r in size["runs"]] == [1, 2]
    for run in size["runs"]:
        assert set(run) == RUN_KEYS
        assert len(run["peak_rss_mib_per_proc"]) == run["procs"]
        assert 0 < run["survey_s"] and 0 < run["epoch_s"] < run["train_s"] < run["wall_s"]
        # 0.68 of the rows train (test 0.2, validation 0.15 of the rest), each epoch, over the processes
        assert 0.6 * rows * 2 < run["rows_stepped_per_proc"] * run["procs"] <= 0.75 * rows * 2
        assert run["rows_per_s_total"] == pytest.approx(run["rows_per_s_per_proc"] * run["procs"], rel=0.01)
        assert run["peak_rss_mib_max"] == max(run["peak_rss_mib_per_proc"]) > 100
    one, two = size["runs"]
    assert size["ratios"] == {"2": pytest.approx(two["rows_per_s_total"] / one["rows_per_s_total"], abs=0.001)}
    assert result["peak_rss_mib_by_size"] == {"1": [one["peak_rss_mib_max"]], "2": [two["peak_rss_mib_max"]]}
    assert any(line.lstrip().startswith("rows procs") for line in lines), "the human table is missing"
    assert any(line.startswith("peak RSS per process (MiB) by size") for line in lines)
    # a second run reuses the data set of the same rows and seed
    again = bench("1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["sizes"][0]["generate_s"] is None
