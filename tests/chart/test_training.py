"""The training Job: config from the chart's files/ or inline, data from the image, a PVC or a
URL, the in-cluster tracking URI, and a name that changes exactly when the pod would; and the
Kubeflow Trainer TrainJob that replaces it under training.distributed, with the same pod."""

from __future__ import annotations

import re

import jsonschema
import pytest
import yaml

from .support import CHART, CI_DIR, REPO, TORCH_RUNTIME, by_kind, crd_schema, env_of, one, render_ci, trainjob_pod

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


# ---- training.distributed: a Kubeflow Trainer TrainJob ---------------------------------

DISTRIBUTED = "training-distributed-values.yaml"
RFC1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def trainjob(*sets: str, values: str = DISTRIBUTED) -> dict:
    return one(render_ci(values, *sets), "TrainJob")


def test_distributed_renders_a_trainjob_instead_of_the_job(tools):
    objects = render_ci(DISTRIBUTED)
    assert not by_kind(objects, "Job")
    tj = one(objects, "TrainJob")
    assert tj["apiVersion"] == "trainer.kubeflow.org/v1alpha1"
    assert tj["spec"]["runtimeRef"] == {"apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime",
                                        "name": "torch-distributed"}
    trainer = tj["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (2, 2)
    assert tj["spec"]["activeDeadlineSeconds"] == 3600
    assert not by_kind(render_ci("default-values.yaml"), "TrainJob"), "off by default"


def test_trainjob_runs_torchrun_with_the_jobs_arguments(tools):
    """The Trainer does not wrap the command: it sets PET_* for torchrun, which must be the command."""
    trainer = trainjob()["spec"]["trainer"]
    assert trainer["command"] == ["torchrun", "-m", "training_job"]
    (train,) = pod(one(render_ci(DISTRIBUTED, "training.distributed.enabled=false"), "Job"))["containers"]
    assert trainer["args"] == train["args"] and "--data" in trainer["args"]
    reserved = {"PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT"}
    assert not reserved & {e["name"] for e in trainer["env"]}, "the Trainer's webhook refuses reserved PET_* env"


def test_trainjob_pod_is_the_jobs_pod(tools):
    """Same container (image, arguments, env with the MLflow credentials from the Secret, resources,
    security context, mounts) and the same pod pieces (account, security context, config
    ConfigMap and data claim) as the Job renders with the same values."""
    sets = ("training.distributed.enabled=false",)
    j = one(render_ci(DISTRIBUTED, *sets), "Job")
    job_spec = pod(j)
    (train,) = job_spec["containers"]
    meta, spec = trainjob_pod(trainjob())
    (node,) = spec["containers"]
    for key in ("image", "args", "env", "resources", "securityContext", "volumeMounts"):
        assert node[key] == train[key], key
    assert env_of(node)["MLFLOW_TRACKING_PASSWORD"] == {"secret": "mlflow-admin", "key": "password"}
    for key in ("serviceAccountName", "securityContext", "volumes"):
        assert spec[key] == job_spec[key], key
    assert meta["labels"] == j["spec"]["template"]["metadata"]["labels"]
    assert meta["annotations"]["checksum/config"] == j["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    sets = ("image.pullSecrets[0]=regcred", "training.nodeSelector.pool=train", "training.podAnnotations.team=risk")
    meta, spec = trainjob_pod(trainjob(*sets))
    job_spec = pod(one(render_ci(DISTRIBUTED, "training.distributed.enabled=false", *sets), "Job"))
    assert spec["imagePullSecrets"] == job_spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["nodeSelector"] == job_spec["nodeSelector"] == {"pool": "train"}
    assert meta["annotations"]["team"] == "risk"


def test_trainjob_patches_only_what_the_trainer_accepts(tools):
    """Trainer v2.3.0's webhook refuses env patched onto the `node` container and patched
    containers or init containers that the runtime does not have."""
    runtime = yaml.safe_load(TORCH_RUNTIME.read_text())
    (rjob,) = runtime["spec"]["template"]["spec"]["replicatedJobs"]
    runtime_containers = {c["name"] for c in rjob["template"]["spec"]["template"]["spec"]["containers"]}
    (patch,) = trainjob()["spec"]["runtimePatches"]
    assert "/" in patch["manager"]  # a domain-prefixed path, as the webhook requires
    (pj,) = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    assert pj["name"] == rjob["name"]
    ps = pj["template"]["spec"]["template"]["spec"]
    assert "initContainers" not in ps
    assert {c["name"] for c in ps["containers"]} <= runtime_containers
    assert all("env" not in c for c in ps["containers"])


def test_trainjob_follows_the_values(tools):
    tj = trainjob("training.distributed.numNodes=4", "training.distributed.numProcPerNode=1",
                  "training.distributed.runtimeRef.kind=TrainingRuntime", "training.distributed.runtimeRef.name=torch-cpu",
                  "training.activeDeadlineSeconds=7200")
    assert (tj["spec"]["trainer"]["numNodes"], tj["spec"]["trainer"]["numProcPerNode"]) == (4, 1)
    assert tj["spec"]["runtimeRef"]["kind"] == "TrainingRuntime" and tj["spec"]["runtimeRef"]["name"] == "torch-cpu"
    assert tj["spec"]["activeDeadlineSeconds"] == 7200
    gpu = ("training.resources.requests.nvidia\\.com/gpu=2", "training.resources.limits.nvidia\\.com/gpu=2")
    assert trainjob(*gpu)["spec"]["trainer"]["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == 2


def test_trainjob_name_is_a_hash_of_its_spec(tools):
    """spec.trainer and spec.runtimeRef are immutable: a changed spec must be a new TrainJob."""
    name = lambda *sets: trainjob(*sets)["metadata"]["name"]
    base = name()
    assert base == name() and base.startswith("demo-credit-score-train-")
    assert name("serving.minReplicas=2") == base
    assert name("training.distributed.numNodes=4") != base
    assert name("training.config.file=", "training.config.inline=seed: 1") != base
    assert name("training.podAnnotations.team=risk") != base  # a runtimePatches change


def test_trainjob_name_leaves_room_for_jobset_pod_names(tools):
    """The CRD's CEL rule wants an RFC 1035 label; JobSet refuses a name whose pods,
    <name>-node-0-<index>-<5 random>, would pass 63 characters."""
    most = ("training.distributed.numNodes=1000", "training.distributed.numProcPerNode=1",
            "training.config.file=", "training.config.inline=optimisation: {batch_size: 64000}")
    for sets in ((), ("fullnameOverride=" + "a" * 63,), ("fullnameOverride=" + "b" * 30 + "-" + "c" * 20,)):
        tj = trainjob(*sets, *most)
        name = tj["metadata"]["name"]
        assert RFC1035.match(name) and len(name) <= 63, name
        assert len(f"{name}-node-0-{tj['spec']['trainer']['numNodes'] - 1}-abcde") <= 63, name


def test_trainjob_schema_is_strict(tools):
    """The closed TrainJob schema catches a misspelt trainer field the API server would drop."""
    tj = trainjob()
    tj["spec"]["trainer"]["numProcsPerNode"] = tj["spec"]["trainer"].pop("numProcPerNode")
    errors = list(jsonschema.Draft7Validator(crd_schema("trainer.kubeflow.org", "TrainJob", "v1alpha1")).iter_errors(tj))
    assert any("numProcsPerNode" in e.message for e in errors), errors


def test_training_network_policy_lets_only_the_ranks_in(tools):
    (np,) = [n for n in by_kind(render_ci(DISTRIBUTED), "NetworkPolicy") if n["metadata"]["name"].endswith("-training")]
    (rule,) = np["spec"]["ingress"]
    assert [f["podSelector"]["matchLabels"] for f in rule["from"]] == [np["spec"]["podSelector"]["matchLabels"]]
    assert rule["ports"] == [{"protocol": "TCP"}]
    (np,) = [n for n in by_kind(render_ci("default-values.yaml"), "NetworkPolicy") if n["metadata"]["name"].endswith("-training")]
    assert np["spec"]["ingress"] == []
