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
from tests.procs import env_with_venv, s3_server
from training_job.data import load_dataset
from training_job.config import DataConfig
from training_job.parquet_stream import dataset_digest, open_dataset

pytestmark = pytest.mark.integration


def torchrun(tracking_uri: str, experiment: str, *overrides: str, data: str | Path | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # --standalone: a rendezvous on a free local port, so parallel test runs never collide
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "-m", "training_job", "--config", str(CONFIG_000), "--tracking-uri", tracking_uri,
            "--experiment", experiment]
    if data is not None:
        args += ["--data", str(data)]
    for o in (*QUICK, *overrides):
        args += ["--set", o]
    return subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=600,
                          env=None if env is None else env_with_venv(**env))


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


@pytest.fixture(scope="module")
def german_parquet(tmp_path_factory) -> Path:
    """The German data as a Parquet dataset: 4 files of 2 row groups, an id column."""
    ds = load_dataset(DataConfig(target="creditability", positive_label="bad",
                                 protected=["personal_status_and_sex", "foreign_worker"]))
    frame = ds.frame.assign(application_id=np.arange(100_001, 101_001), creditability=np.where(ds.target, "bad", "good"),
                            **ds.protected)
    folder = tmp_path_factory.mktemp("parquet") / "german"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 4)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[rows], preserve_index=False), folder / f"part-{i}.parquet",
                       row_group_size=125)
    return folder


STREAMED = ("data.id_columns=[application_id]",)


def test_a_parquet_dataset_trains_shard_by_shard(mlflow, german_parquet: Path) -> None:
    done = torchrun(mlflow.url, "it-ddp-stream", "registry.model_name=it-ddp-stream", *STREAMED, data=german_parquet)
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


def test_an_object_store_prefix_streams_from_s3(mlflow, german_parquet: Path, tmp_path: Path) -> None:
    import boto3

    with s3_server(tmp_path) as s3_env:
        s3 = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name=s3_env["AWS_DEFAULT_REGION"],
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="portfolios")
        for part in sorted(german_parquet.iterdir()):
            s3.upload_file(str(part), "portfolios", f"german/{part.name}")
        done = torchrun(mlflow.url, "it-ddp-s3", "registry.model_name=it-ddp-s3", *STREAMED,
                        data="s3://portfolios/german/", env=s3_env)
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(mlflow.url)
    [version] = client.search_model_versions("name = 'it-ddp-s3'")
    # the same files in a bucket: the same data digest as the folder's
    assert version.tags["data_digest"] == dataset_digest(open_dataset(str(german_parquet))[1])
    [record] = client.get_run(version.run_id).inputs.dataset_inputs
    assert record.dataset.source_type == "s3" and "s3://portfolios/german/" in record.dataset.source
