"""The artifact records only what the inputs decide, so the same data, config and seed train the
same artifact bytes in any folder (the integration test test_dvc_reproduce.py does it from a DVC
revision in two fresh clones, with the full config)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import CONFIG_000, QUICK

pytestmark = pytest.mark.slow  # two trainings: past the quick loop of make test-unit

EMBEDDED = CONFIG_000.parents[2] / "training_job" / "datasets" / "germancredit.csv"


def test_two_folders_train_the_same_artifact_digest(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training_job.config import load_config
    from training_job.job import run_job

    cfg = load_config(CONFIG_000, [*QUICK, "optimisation.threads=1", "fairness.bootstrap=0"])
    digests, specs = [], []
    for name in ("a", "elsewhere/b"):
        folder = tmp_path / name
        (folder / "data").mkdir(parents=True)
        shutil.copy(EMBEDDED, folder / "data" / "german.csv")
        monkeypatch.chdir(folder)
        result = run_job(cfg, data_path="data/german.csv", output_dir=folder / "out")
        digests.append(result.artifact_digest)
        specs.append(json.loads((folder / "out" / "artifact.json").read_text()))
    assert digests[0] == digests[1]
    training = specs[0]["training"]
    assert training["data_source"] == "data/german.csv"  # as given, not /tmp/.../a/data/german.csv
    assert "run_id" not in training and "fit_seconds" not in specs[0]["metrics"]
    assert str(tmp_path) not in json.dumps(specs[0])
