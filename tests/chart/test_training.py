"""The training Job: config from the chart's files/ or inline, data from the image, a PVC or a
URL, the in-cluster tracking URI, and a name that changes exactly when the pod would."""

from __future__ import annotations

import pytest
import yaml

from .support import CHART, CI_DIR, REPO, by_kind, env_of, one, render_ci

pytestmark = pytest.mark.chart

CONFIG_000 = REPO / "config" / "models-configs" / "model_config_000.yaml"


def job(*sets: str, values: str = "default-values.yaml") -> dict:
    return one(render_ci(values, *sets), "Job")


def pod(j: dict) -> dict:
    return j["spec"]["template"]["spec"]


def test_chart_config_is_the_projects_model_config_000():
    if not CONFIG_000.is_file():
        pytest.skip(f"{CONFIG_000} is absent")
    assert yaml.safe_load((CHART / "files" / "model_config.yaml").read_text()) == yaml.safe_load(CONFIG_000.read_text())


def test_config_map_holds_the_file_and_is_mounted(tools):
    objects = render_ci("default-values.yaml")
    (cm,) = [c for c in by_kind(objects, "ConfigMap") if c["metadata"]["name"].endswith("-training")]
    assert cm["data"]["model_config.yaml"].strip() == (CHART / "files" / "model_config.yaml").read_text().strip()
    spec = pod(one(objects, "Job"))
    (train,) = spec["containers"]
    assert train["args"][:2] == ["--config", "/etc/credit-score/model_config.yaml"]
    mount = {m["name"]: m for m in train["volumeMounts"]}["config"]
    assert mount["mountPath"] == "/etc/credit-score" and mount["readOnly"] is True
    assert {v["name"]: v for v in spec["volumes"]}["config"]["configMap"]["name"] == cm["metadata"]["name"]


def test_inline_config(tools):
    objects = render_ci("training-url-values.yaml")
    (cm,) = [c for c in by_kind(objects, "ConfigMap") if c["metadata"]["name"].endswith("-training")]
    inline = yaml.safe_load((CI_DIR / "training-url-values.yaml").read_text())["training"]["config"]["inline"]
    assert yaml.safe_load(cm["data"]["model_config.yaml"]) == yaml.safe_load(inline)


def test_embedded_data_by_default(tools):
    spec = pod(job())
    (train,) = spec["containers"]
    assert "--data" not in train["args"]
    assert train["args"][-2:] == ["--experiment", "credit-score"]
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-mlflow"]
    env = env_of(train)
    assert env["MLFLOW_TRACKING_URI"] == "http://demo-credit-score-mlflow.credit.svc.cluster.local:5000"
    assert env["HOME"] == "/tmp" and env["MPLCONFIGDIR"] == "/tmp"
    assert spec["restartPolicy"] == "Never"


def test_data_from_a_pvc(tools):
    spec = pod(job(values="training-pvc-values.yaml"))
    (train,) = spec["containers"]
    assert train["args"][train["args"].index("--data") + 1] == "/data/german/credit.parquet"
    assert {m["name"]: m for m in train["volumeMounts"]}["data"]["readOnly"] is True
    assert {v["name"]: v for v in spec["volumes"]}["data"]["persistentVolumeClaim"] == {"claimName": "credit-data", "readOnly": True}


def test_data_from_a_url(tools):
    spec = pod(job(values="training-url-values.yaml"))
    init = {c["name"]: c for c in spec["initContainers"]}
    env = env_of(init["download-data"])
    assert env["DATA_URL"] == "https://data.example.com/german/credit.csv"
    assert env["DATA_PATH"] == "/data/german.csv" and len(env["DATA_SHA256"]) == 64
    assert init["download-data"]["resources"]["limits"]
    (train,) = spec["containers"]
    assert train["args"][train["args"].index("--data") + 1] == "/data/german.csv"
    assert "emptyDir" in {v["name"]: v for v in spec["volumes"]}["data"]


def test_job_settings_come_from_values(tools):
    j = job("training.backoffLimit=5", "training.ttlSecondsAfterFinished=600", "training.activeDeadlineSeconds=900")
    assert (j["spec"]["backoffLimit"], j["spec"]["ttlSecondsAfterFinished"], j["spec"]["activeDeadlineSeconds"]) == (5, 600, 900)


def test_job_name_is_a_hash_of_the_pod_template(tools):
    """Jobs are immutable: a new pod template must mean a new Job name, the same one the same."""
    name = lambda *sets, values="default-values.yaml": job(*sets, values=values)["metadata"]["name"]
    base = name()
    assert base == name() and len(base) <= 63
    assert base.startswith("demo-credit-score-train-")
    assert name("serving.minReplicas=2") == base  # predictors only: the Job stays
    assert name("training.experiment=other") != base
    assert name("image.train.tag=0.2.0") != base
    assert name("training.resources.limits.memory=8Gi") != base
    assert name(values="training-url-values.yaml") != base
    inline = lambda text: name("training.config.file=", f"training.config.inline={text}")
    assert inline("seed: 1") != inline("seed: 2")


def test_mlflow_credentials_reach_the_job_only_from_the_secret(tools):
    (train,) = pod(job(values="auth-values.yaml"))["containers"]
    env = env_of(train)
    assert env["MLFLOW_TRACKING_USERNAME"] == {"secret": "mlflow-admin", "key": "username"}
    assert env["MLFLOW_TRACKING_PASSWORD"] == {"secret": "mlflow-admin", "key": "password"}


def test_external_tracking_server(tools):
    (train,) = pod(job(values="mlflow-disabled-values.yaml"))["containers"]
    assert env_of(train)["MLFLOW_TRACKING_URI"] == "https://mlflow.example.com"


def test_training_can_be_turned_off(tools):
    objects = render_ci("default-values.yaml", "training.enabled=false")
    assert not by_kind(objects, "Job")
    assert not [o for o in objects if o["metadata"]["labels"]["app.kubernetes.io/component"] == "training"]


DVC_VALUES = "training-dvc-values.yaml"


def test_a_dvc_revision_is_pulled_by_an_init_container_and_read_by_the_job(tools):
    values = yaml.safe_load((CI_DIR / DVC_VALUES).read_text())["training"]["dvc"]
    spec = pod(job(values=DVC_VALUES))
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-mlflow", "dvc-pull"]
    pull = spec["initContainers"][1]
    env = env_of(pull)
    assert (env["DVC_REPO_URL"], env["DVC_REVISION"], env["DVC_PATH"]) == (values["repoUrl"], values["revision"], values["path"])
    assert (env["DVC_REMOTE_URL"], env["DVC_REMOTE_ENDPOINT"]) == (values["remote"]["url"], values["remote"]["endpointUrl"])
    assert pull["command"][:2] == ["sh", "-c"] and "dvc pull" in pull["command"][2]
    # credentials only by reference to an existing Secret, mounted as files for the pull alone
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["dvc-credentials"]["secret"]["secretName"] == values["existingSecret"]
    pull_mounts = {m["name"]: m for m in pull["volumeMounts"]}
    assert pull_mounts["dvc-credentials"]["readOnly"] is True
    assert env["DVC_CREDENTIALS_DIR"] == pull_mounts["dvc-credentials"]["mountPath"]
    assert "envFrom" not in pull and not any("secret" in k.lower() or "key" in k.lower() for k in env)
    (train,) = spec["containers"]
    assert train["args"][-2:] == ["--data", f"{env['DVC_DEST']}/{values['path']}"]
    mounts = {m["name"]: m for m in train["volumeMounts"]}
    assert mounts["dvc-data"]["readOnly"] is True and "dvc-credentials" not in mounts
    assert pull_mounts["dvc-data"]["mountPath"] == mounts["dvc-data"]["mountPath"]
    assert env["DVC_DEST"].startswith(mounts["dvc-data"]["mountPath"] + "/")
    assert "emptyDir" in volumes["dvc-data"]


def test_without_dvc_the_job_is_rendered_as_before(tools):
    # the DVC helper hands the pod template back untouched: same Job name as with no dvc block at all
    assert job()["metadata"]["name"] == job("training.dvc.repoUrl=https://x.example/r.git")["metadata"]["name"]
    assert "dvc-data" not in {v["name"] for v in pod(job())["volumes"]}


def test_another_revision_is_another_job(tools):
    a = job(values=DVC_VALUES)["metadata"]["name"]
    b = job("training.dvc.revision=fedcba9876543210fedcba9876543210fedcba98", values=DVC_VALUES)["metadata"]["name"]
    assert a != b
