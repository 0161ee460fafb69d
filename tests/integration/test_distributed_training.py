"""torchrun with two processes (gloo, CPU) against the real MLflow server: rank 0 alone logs and
registers, a retried launch registers nothing, and a Parquet dataset is read shard by shard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from tests.conftest import CONFIG_000, QUICK, REPO
from training_job.data import load_dataset
from training_job.config import DataConfig

pytestmark = pytest.mark.integration


def torchrun(tracking_uri: str, experiment: str, *overrides: str, data: Path | None = None) -> subprocess.CompletedProcess:
    # --standalone: a rendezvous on a free local port, so parallel test runs never collide
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "-m", "training_job", "--config", str(CONFIG_000), "--tracking-uri", tracking_uri,
            "--experiment", experiment]
    if data is not None:
        args += ["--data", str(data)]
    for o in (*QUICK, *overrides):
        args += ["--set", o]
    return subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=600)


def runs(client: MlflowClient, experiment: str) -> list:
    return client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


@pytest.fixture(scope="module")
def ddp_run(mlflow):
    done = torchrun(mlflow.url, "it-ddp", "registry.model_name=it-ddp")
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_two_processes_register_exactly_one_version_from_one_run(mlflow, ddp_run) -> None:
    client = MlflowClient(mlflow.url)
    versions = client.search_model_versions("name = 'it-ddp'")
    assert [v.version for v in versions] == ["1"]
    [run] = runs(client, "it-ddp")  # rank 1 opened no run of its own
    assert run.info.run_id == versions[0].run_id
    assert run.data.params["distributed.processes"] == "2"
    assert 0.6 < run.data.metrics["test_auc"] <= 1.0
    # the epoch curve is logged once per epoch, not once per rank
    history = client.get_metric_history(run.info.run_id, "val_auc")
    assert [h.step for h in history] == list(range(1, len(history) + 1))
    assert ddp_run.stdout.count("version      1") == 1  # rank 1 printed nothing
    assert "processes    2 (torchrun" in ddp_run.stdout


def test_a_retried_launch_registers_no_duplicate(mlflow, ddp_run) -> None:
    again = torchrun(mlflow.url, "it-ddp", "registry.model_name=it-ddp")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing registered" in again.stdout
    client = MlflowClient(mlflow.url)
    assert len(client.search_model_versions("name = 'it-ddp'")) == 1
    assert len(runs(client, "it-ddp")) == 1


def test_a_parquet_dataset_trains_shard_by_shard(mlflow, tmp_path: Path) -> None:
    ds = load_dataset(DataConfig(target="creditability", positive_label="bad",
                                 protected=["personal_status_and_sex", "foreign_worker"]))
    frame = ds.frame.assign(application_id=np.arange(100_001, 101_001), creditability=np.where(ds.target, "bad", "good"),
                            **ds.protected)
    folder = tmp_path / "german"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 4)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[rows], preserve_index=False), folder / f"part-{i}.parquet",
                       row_group_size=125)
    done = torchrun(mlflow.url, "it-ddp-stream", "registry.model_name=it-ddp-stream",
                    "data.id_columns=[application_id]", data=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(mlflow.url)
    [version] = client.search_model_versions("name = 'it-ddp-stream'")
    params = client.get_run(version.run_id).data.params
    assert params["data.rows"] == "1000" and params["distributed.processes"] == "2"
    assert params["split.method"] == "hash"  # a streamed dataset is split by id, whatever the config said
    assert sum(int(params[f"split.{s}_rows"]) for s in ("train", "validation", "test")) == 1000
    [record] = client.get_run(version.run_id).inputs.dataset_inputs
    assert record.dataset.name == "german" and record.dataset.source_type == "local"  # the folder, not a sample
    assert "duration_in_month" in {c["name"] for c in json.loads(record.dataset.schema)["mlflow_colspec"]}
    assert record.dataset.profile is None and version.tags["data_digest"].startswith(record.dataset.digest)
    assert "reads 4 of them" in done.stderr  # each rank its own 4 of the 8 row groups
