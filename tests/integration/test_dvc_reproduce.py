"""Reproducing a version from a DVC revision: the German data are seeded into an object-store
DVC remote (moto's S3 server) by scripts/dvc-data.sh, then two fresh clones of this revision in
different folders `dvc pull` them and run the dvc.yaml train stage (`dvc repro`), one against a
real MLflow server, one without. Both artifacts have the same digest, and the run and the
registered version carry the DVC hash that `dvc checkout` turns back into the same bytes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.procs import VENV_BIN, env_with_venv, mlflow_server, s3_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DVC = str(VENV_BIN / "dvc")
BUCKET = "credit-score-dvc"
DATA = "data/german_credit.csv"
ARTIFACT = "artifacts/model_000"


def sh(cwd: Path, *args: str, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} in {cwd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def fresh_clone(folder: Path, rev: str, env: dict[str, str]) -> Path:
    """A clone at `rev` whose DVC remote is the bucket (local config only, as a user's would be)."""
    sh(folder.parent, "git", "clone", "-q", "--no-checkout", str(REPO), folder.name, env=env)
    sh(folder, "git", "checkout", "-q", rev, env=env)
    sh(folder, DVC, "remote", "add", "--local", "-d", "store", f"s3://{BUCKET}/dvc", env=env)
    sh(folder, DVC, "remote", "modify", "--local", "store", "endpointurl", env["AWS_ENDPOINT_URL"], env=env)
    return folder


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with s3_server(tmp_path_factory.mktemp("s3")) as env:
        import boto3

        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                     aws_access_key_id="test", aws_secret_access_key="test").create_bucket(Bucket=BUCKET)
        yield env


def test_two_fresh_clones_of_a_dvc_revision_train_the_same_artifact(s3, tmp_path: Path) -> None:
    env = env_with_venv(**s3, DVC_NO_ANALYTICS="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    recorded = yaml.safe_load((REPO / f"{DATA}.dvc").read_text())["outs"][0]["md5"]

    # An empty store: the seeding script pulls nothing, checks the embedded bytes and pushes them.
    seeded = sh(fresh_clone(tmp_path / "seed", rev, env), "bash", "scripts/dvc-data.sh", env=env, timeout=300)
    assert f"seeded the DVC store with {recorded}" in seeded

    digests, clones = {}, {}
    with mlflow_server(tmp_path / "mlflow") as server:
        for name, tracking in (("a", server.url), ("b", None)):
            (tmp_path / f"clone-{name}").mkdir()
            clone = clones[name] = fresh_clone(tmp_path / f"clone-{name}" / "credit-score", rev, env)
            sh(clone, DVC, "pull", "-q", f"{DATA}.dvc", env=env, timeout=300)
            assert hashlib.md5((clone / DATA).read_bytes(), usedforsecurity=False).hexdigest() == recorded
            run_env = {**env, **({"MLFLOW_TRACKING_URI": tracking} if tracking else {})}
            sh(clone, DVC, "repro", "train", env=run_env, timeout=1200)
            spec = (clone / ARTIFACT / "artifact.json").read_bytes()
            digests[name] = hashlib.sha256(spec).hexdigest()
            # the data path as the stage gave it, not the clone's absolute path
            assert json.loads(spec)["training"]["data_source"] == DATA

        assert digests["a"] == digests["b"], "same revision, same lock, same seed: the artifact bytes must match"

        from mlflow import MlflowClient

        client = MlflowClient(server.url)
        [version] = client.search_model_versions(f"tags.artifact_digest = '{digests['a']}'")
        run = client.get_run(version.run_id)
        for tags in (run.data.tags, version.tags):
            assert tags["dvc.data_hash"] == recorded
            assert tags["dvc.path"] == DATA
            assert tags["dvc.rev"] == rev
            assert tags["data_digest"]

    # `dvc checkout` of that revision gives back exactly the bytes the tags name
    clone = clones["b"]
    (clone / DATA).unlink()
    sh(clone, DVC, "checkout", "-q", f"{DATA}.dvc", env=env)
    assert hashlib.md5((clone / DATA).read_bytes(), usedforsecurity=False).hexdigest() == version.tags["dvc.data_hash"]
