"""Helpers of the cluster tier: find a reachable Kubernetes cluster, drive helm and kubectl,
call the gateway, read predictor metrics. Settings come from the environment that
scripts/e2e-kind.sh exports (defaults match that script)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"
NO_CLUSTER = "no Kubernetes cluster"


def _tool(name: str) -> str | None:
    override = os.environ.get(f"E2E_{name.upper()}")
    if override:
        return override
    found = shutil.which(name)
    if found:
        return found
    local = TOOLS_BIN / name
    return str(local) if local.is_file() else None


@dataclass(frozen=True)
class Settings:
    kubectl: str
    helm: str
    release: str
    namespace: str
    values: Path
    gateway_http: str
    gateway_grpc: str
    image_tag: str

    @classmethod
    def from_env(cls, kubectl: str, helm: str) -> "Settings":
        return cls(
            kubectl=kubectl,
            helm=helm,
            release=os.environ.get("E2E_RELEASE", "credit"),
            namespace=os.environ.get("E2E_NAMESPACE", "credit-score"),
            values=Path(os.environ.get("E2E_VALUES", REPO / "manifests" / "values-kind.yaml")),
            gateway_http=os.environ.get("E2E_GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/"),
            gateway_grpc=os.environ.get("E2E_GATEWAY_GRPC", "127.0.0.1:8080"),
            image_tag=os.environ.get("E2E_IMAGE_TAG", ""),
        )


@functools.lru_cache(maxsize=None)
def cluster_unavailable() -> str | None:
    """Why the cluster tier cannot run here (the skip reason, starting with "no Kubernetes
    cluster"), or None when a kind cluster with the API server answering is the current context."""
    kubectl = _tool("kubectl")
    if kubectl is None:
        return f"{NO_CLUSTER}: kubectl not found (PATH, .tools/bin)"
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig and not (Path.home() / ".kube" / "config").is_file() \
            and not os.environ.get("KUBERNETES_SERVICE_HOST"):
        return f"{NO_CLUSTER}: no KUBECONFIG, no ~/.kube/config"
    ctx = subprocess.run([kubectl, "config", "current-context"], capture_output=True, text=True, timeout=20)
    if ctx.returncode != 0:
        return f"{NO_CLUSTER}: no current kubectl context ({ctx.stderr.strip()[:200]})"
    context = ctx.stdout.strip()
    # The tests upgrade and roll back a release: never against a cluster that is not a throwaway one.
    if not context.startswith("kind-") and os.environ.get("E2E_ALLOW_ANY_CONTEXT") != "1":
        return f"{NO_CLUSTER}: context {context!r} is not a kind cluster (set E2E_ALLOW_ANY_CONTEXT=1 to use it)"
    probe = subprocess.run([kubectl, "get", "--raw", "/readyz", "--request-timeout=5s"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"{NO_CLUSTER}: the API server of {context!r} does not answer ({probe.stderr.strip()[:200]})"
    if _tool("helm") is None:
        return f"{NO_CLUSTER} usable: helm not found (PATH, .tools/bin)"
    return None


def settings() -> Settings:
    kubectl, helm = _tool("kubectl"), _tool("helm")
    assert kubectl and helm
    return Settings.from_env(kubectl, helm)


def run(cmd: list[str], timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


class Cluster:
    """kubectl and helm against the release under test."""

    def __init__(self, s: Settings) -> None:
        self.s = s

    def kubectl(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([self.s.kubectl, "-n", self.s.namespace, *args], timeout=timeout, check=check)

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def helm(self, *args: str, timeout: float = 1200, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([self.s.helm, *args, "--namespace", self.s.namespace], timeout=timeout, check=check)

    def upgrade(self, *sets: str, files: tuple[tuple[str, Path], ...] = ()) -> int:
        """`helm upgrade --reuse-values` with --set changes; returns the new revision."""
        args = ["upgrade", self.s.release, str(REPO / "charts" / "credit-score"), "--reuse-values"]
        for s in sets:
            args += ["--set", s]
        for key, path in files:
            args += ["--set-file", f"{key}={path}"]
        self.helm(*args, "--timeout", "20m")
        return self.revision()

    def rollback(self, revision: int) -> int:
        self.helm("rollback", self.s.release, str(revision), "--timeout", "20m")
        return self.revision()

    def revision(self) -> int:
        return int(json.loads(self.helm("status", self.s.release, "-o", "json").stdout)["version"])

    def values(self) -> dict[str, Any]:
        return json.loads(self.helm("get", "values", self.s.release, "--all", "-o", "json").stdout)

    def isvc_by_version(self) -> dict[str, str]:
        """Registered version -> InferenceService name, from the deployed objects' MODEL_URI."""
        out = {}
        for isvc in self.get_json("inferenceservices.serving.kserve.io", "-l", f"app.kubernetes.io/instance={self.s.release}")["items"]:
            for c in isvc["spec"]["predictor"]["containers"]:
                for e in c.get("env", []):
                    if e["name"] == "MODEL_URI":
                        out[e["value"].rsplit("/", 1)[-1]] = isvc["metadata"]["name"]
        return out

    def wait_isvc_ready(self, name: str, timeout_s: int = 900) -> None:
        self.kubectl("wait", f"inferenceservice.serving.kserve.io/{name}", "--for=condition=Ready",
                     f"--timeout={timeout_s}s", timeout=timeout_s + 30)

    def wait_job_complete(self, timeout_s: int = 1200) -> str:
        """Wait for the newest training Job of the release; fail early when it fails."""
        deadline = time.monotonic() + timeout_s
        selector = f"app.kubernetes.io/instance={self.s.release},app.kubernetes.io/component=training"
        while time.monotonic() < deadline:
            jobs = sorted(self.get_json("jobs", "-l", selector)["items"], key=lambda j: j["metadata"]["creationTimestamp"])
            if jobs:
                job = jobs[-1]
                conds = {c["type"]: c["status"] for c in job.get("status", {}).get("conditions", [])}
                if conds.get("Complete") == "True":
                    return job["metadata"]["name"]
                if conds.get("Failed") == "True":
                    logs = self.kubectl("logs", f"job/{job['metadata']['name']}", "--all-containers", "--tail=80", check=False)
                    raise AssertionError(f"training Job {job['metadata']['name']} failed:\n{logs.stdout}{logs.stderr}")
            time.sleep(5)
        raise AssertionError(f"no training Job completed within {timeout_s} s")

    def wait_routes_programmed(self, timeout_s: int = 180) -> None:
        """Every route of the release accepted by the Gateway at its current generation."""
        deadline = time.monotonic() + timeout_s
        pending: list[str] = []
        while time.monotonic() < deadline:
            pending = []
            for kind in ("httproutes.gateway.networking.k8s.io", "grpcroutes.gateway.networking.k8s.io"):
                for r in self.get_json(kind, "-l", f"app.kubernetes.io/instance={self.s.release}")["items"]:
                    gen = r["metadata"]["generation"]
                    parents = r.get("status", {}).get("parents", [])
                    ok = parents and all(
                        any(c["type"] == t and c["status"] == "True" and c.get("observedGeneration", gen) == gen
                            for c in p.get("conditions", []))
                        for p in parents for t in ("Accepted", "ResolvedRefs"))
                    if not ok:
                        pending.append(f"{r['kind']}/{r['metadata']['name']}")
            if not pending:
                time.sleep(3)  # xDS push to Envoy
                return
            time.sleep(2)
        raise AssertionError(f"routes not programmed within {timeout_s} s: {pending}")

    def route_weights(self) -> dict[str, int]:
        """Backend weights of the chart's HTTPRoute (component rollout; KServe's own routes aside)."""
        route = self.get_json("httproutes.gateway.networking.k8s.io", "-l",
                              f"app.kubernetes.io/instance={self.s.release},app.kubernetes.io/component=rollout")["items"][0]
        return {b["name"]: b.get("weight", 1) for b in route["spec"]["rules"][0]["backendRefs"]}

    def pod_metrics(self, isvc: str, metric: str) -> float:
        """Sum of a counter over every pod of an InferenceService, read through the API server
        pod proxy from each model server's /metrics (no port-forward)."""
        from prometheus_client.parser import text_string_to_metric_families

        pods = self.get_json("pods", "-l", f"serving.kserve.io/inferenceservice={isvc}")["items"]
        assert pods, f"no pods of InferenceService {isvc}"
        total = 0.0
        for pod in pods:
            if pod["status"].get("phase") != "Running":
                continue
            text = run([self.s.kubectl, "get", "--raw",
                        f"/api/v1/namespaces/{self.s.namespace}/pods/{pod['metadata']['name']}:8080/proxy/metrics"]).stdout
            for fam in text_string_to_metric_families(text):
                for sample in fam.samples:
                    if sample.name == metric:
                        total += sample.value
        return total
