"""The chart's training.distributed TrainJob against the real kube-apiserver (the Trainer CRD
schema with its CEL rules), Kubeflow Trainer's controller manager (its defaulting and validating
webhooks, the torch plugin) and the JobSet controller: the TrainJob becomes a JobSet, the JobSet
Jobs and pods (scheduled onto kwok's node; they never execute), and the pods carry the torchrun
launch and the PET_* variables the Trainer sets."""

from __future__ import annotations

import uuid

import pytest

from . import cp

pytestmark = pytest.mark.controlplane

CHART = cp.REPO / "charts" / "credit-score"
RELEASE = "credit-score"
NODES, PROCS = 2, 2  # 4 ranks divide the chart config's global batch of 64
MASTER_PORT = "29500"  # constants.ContainerTrainerPort of kubeflow/trainer v2.3.0
DISTRIBUTED = ("--set", "training.distributed.enabled=true",
               "--set", f"training.distributed.numNodes={NODES}",
               "--set", f"training.distributed.numProcPerNode={PROCS}",
               "--set", "serving.enabled=false")


def _trainjobs(plane, ns: str) -> list[dict]:
    return plane.get("trainjobs.trainer.kubeflow.org", "-n", ns, "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]


def _owned(plane, kind: str, ns: str, owner: dict) -> list[dict]:
    return [o for o in plane.get(kind, "-n", ns)["items"]
            if any(r.get("uid") == owner["metadata"]["uid"] and r.get("controller")
                   for r in o["metadata"].get("ownerReferences", []))]


def _state(plane, ns: str) -> str:
    """What the controllers left, for a failure message: pods, Jobs, JobSets and the events."""
    out = [plane.kubectl("get", "trainjobs,jobsets,jobs,pods", "-n", ns, "-o", "wide", check=False).stdout]
    out.append(plane.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False).stdout[-4000:])
    return "\n".join(out)


def _wait(plane, ns: str, what: str, check, timeout: float):
    try:
        return cp.wait_until(what, check, timeout)
    except TimeoutError as e:
        raise TimeoutError(f"{e}\n{_state(plane, ns)}") from None


def _env(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.fixture(scope="module")
def release(trainer) -> str:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    trainer.helm("install", RELEASE, str(CHART), "-n", ns, "--create-namespace", *DISTRIBUTED)
    return ns


def test_trainjob_becomes_a_jobset_of_torchrun_pods(trainer, release):
    plane, ns = trainer, release
    (tj,) = _trainjobs(plane, ns)
    name = tj["metadata"]["name"]
    # Trainer's defaulting webhook ran: it stamps the chart's runtime patch
    assert tj["spec"]["runtimePatches"][0].get("time"), tj["spec"]["runtimePatches"]
    jobsets = _wait(plane, ns, f"the JobSet of TrainJob {name}",
                    lambda: _owned(plane, "jobsets.jobset.x-k8s.io", ns, tj), 120)
    (js,) = jobsets
    assert js["metadata"]["name"] == name
    # the chart's labels reach the JobSet through the runtime patch (NOTES lists it by them)
    assert js["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
    jobs = _wait(plane, ns, f"the Jobs of JobSet {name}", lambda: _owned(plane, "jobs", ns, js), 120)
    (job,) = jobs  # one replicated job `node`, NODES indexed pods
    assert (job["spec"]["parallelism"], job["spec"]["completions"]) == (NODES, NODES)
    assert job["spec"]["completionMode"] == "Indexed"

    # kwok runs the pods on its fake node and, as its default stages do for Job pods, lets them
    # succeed at once: nothing executes, the status path is the real one
    pods = _wait(plane, ns, f"{NODES} pods scheduled and started (kwok)", lambda: (
        p if len(p := _owned(plane, "pods", ns, job)) == NODES
        and all(x["spec"].get("nodeName") and x["status"].get("phase") in ("Running", "Succeeded") for x in p)
        else None), 180)
    for pod in pods:
        spec = pod["spec"]
        (node,) = [c for c in spec["containers"] if c["name"] == "node"]
        assert node["command"] == ["torchrun", "-m", "training_job"]
        assert node["args"][:2] == ["--config", "/etc/credit-score/model_config.yaml"]
        env = _env(node)
        assert env["PET_NNODES"] == str(NODES) and env["PET_NPROC_PER_NODE"] == str(PROCS)
        assert env["PET_NODE_RANK"] == {"fieldRef": {"apiVersion": "v1", "fieldPath":
                                        "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
        assert env["PET_MASTER_ADDR"] == f"{name}-node-0-0.{name}"
        assert env["PET_MASTER_PORT"] == MASTER_PORT
        assert {"containerPort": int(MASTER_PORT), "protocol": "TCP"} in node.get("ports", [])
        assert env["MLFLOW_TRACKING_URI"].startswith(f"http://{RELEASE}-mlflow.{ns}.svc")
        # the chart's runtime patch reached the pod
        assert spec["serviceAccountName"] == f"{RELEASE}-training"
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert node["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"config", "tmp"} <= {v["name"] for v in spec["volumes"]}
        assert {m["mountPath"] for m in node["volumeMounts"]} >= {"/tmp", "/etc/credit-score"}
        # the pod's own field is unset and the account says no: no token in the training pods
        assert not [v for v in spec["volumes"] if v["name"].startswith("kube-api-access")], spec["volumes"]
    ranks = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods)
    assert ranks == [str(i) for i in range(NODES)]
    # Trainer reads the JobSet's outcome back into the TrainJob
    _wait(plane, ns, f"TrainJob {name} Complete", lambda: any(
        c["type"] == "Complete" and c["status"] == "True"
        for c in plane.get("trainjobs.trainer.kubeflow.org", name, "-n", ns).get("status", {}).get("conditions", [])), 120)


def test_training_network_policy_selects_the_ranks(trainer, release):
    """The chart's policy admits exactly the pods the controllers made: the ranks reach each other."""
    plane, ns = trainer, release
    policy = plane.get("networkpolicy", f"{RELEASE}-training", "-n", ns)
    selector = policy["spec"]["podSelector"]["matchLabels"]
    (tj,) = _trainjobs(plane, ns)
    pods = [p for p in plane.get("pods", "-n", ns, "-l", f"jobset.sigs.k8s.io/jobset-name={tj['metadata']['name']}")["items"]]
    assert len(pods) == NODES
    for pod in pods:
        assert selector.items() <= pod["metadata"]["labels"].items(), pod["metadata"]["labels"]
    (rule,) = policy["spec"]["ingress"]
    assert [f["podSelector"]["matchLabels"] for f in rule["from"]] == [selector]


def test_upgrade_keeps_or_replaces_the_trainjob(trainer, release):
    """The TrainJob's trainer and runtimeRef are immutable: an unchanged upgrade keeps the same
    object, a changed one replaces it (a new name), and the API server accepts both."""
    plane, ns = trainer, release
    (before,) = _trainjobs(plane, ns)
    plane.helm("upgrade", RELEASE, str(CHART), "-n", ns, "--reuse-values")
    (same,) = _trainjobs(plane, ns)
    assert same["metadata"]["uid"] == before["metadata"]["uid"]
    plane.helm("upgrade", RELEASE, str(CHART), "-n", ns, "--reuse-values",
               "--set", "training.distributed.numNodes=4", "--set", "training.distributed.numProcPerNode=1")
    (after,) = _wait(plane, ns, "one TrainJob after the upgrade", lambda: (
        t if len(t := _trainjobs(plane, ns)) == 1 and t[0]["metadata"]["uid"] != before["metadata"]["uid"] else None), 60)
    assert after["metadata"]["name"] != before["metadata"]["name"]
    assert after["spec"]["trainer"]["numNodes"] == 4
