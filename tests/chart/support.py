"""Helpers of the chart tier: run the real helm binary, load CRD schemas, walk rendered objects."""

from __future__ import annotations

import copy
import functools
import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "credit-score"
CI_DIR = CHART / "ci"
INVALID_DIR = Path(__file__).resolve().parent / "invalid"
FETCH_TOOLS = REPO / "scripts" / "fetch-tools.sh"
TOOLS = Path(os.environ.get("TOOLS_DIR") or REPO / ".tools")
HELM = TOOLS / "bin" / "helm"
CHECKOV = TOOLS / "checkov-venv" / "bin" / "checkov"
CRD_DIR = REPO.parent / "shared" / "crds"
# Gateway API v1.5.1 (KServe v0.20.0's go.mod, Envoy Gateway v1.8), vendored: ../shared has v1.2.1 only
GATEWAY_API_CRDS = REPO / "tests" / "crds" / "gateway-api-v1.5.1"
# Kubeflow Trainer v2.3.0, vendored: the control-plane tier runs the controller of that version
TRAINER_CRDS = REPO / "tests" / "crds" / "kubeflow-trainer-v2.3.0"
TORCH_RUNTIME = TRAINER_CRDS / "runtime-torch-distributed.yaml"
CRD_FILES = {
    ("serving.kserve.io", "InferenceService"): CRD_DIR / "kserve-v0.20.0" / "serving.kserve.io_inferenceservices.yaml",
    ("gateway.networking.k8s.io", "HTTPRoute"): GATEWAY_API_CRDS / "gateway.networking.k8s.io_httproutes.yaml",
    ("gateway.networking.k8s.io", "GRPCRoute"): GATEWAY_API_CRDS / "gateway.networking.k8s.io_grpcroutes.yaml",
    ("trainer.kubeflow.org", "TrainJob"): TRAINER_CRDS / "trainer.kubeflow.org_trainjobs.yaml",
}
RELEASE = "demo"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NAMESPACE = "credit"


def tools_supported() -> str | None:
    """Why the pinned linux/amd64 binaries cannot run here, or None when they can."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"the pinned helm/kubectl binaries are linux/amd64; this is {platform.system()}/{platform.machine()}"
    return None


def ci_values_files() -> list[Path]:
    return sorted(CI_DIR.glob("*-values.yaml"))


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def template_args(values_files: tuple[Path, ...] = (), sets: tuple[str, ...] = (), kube_version: str | None = None) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for f in values_files:
        args += ["--values", str(f)]
    for s in sets:
        args += ["--set", s]
    if kube_version:
        args += ["--kube-version", kube_version]
    return args


@functools.lru_cache(maxsize=None)
def render_text(values_files: tuple[Path, ...] = (), sets: tuple[str, ...] = ()) -> str:
    """`helm template` output (hooks included), cached per values combination."""
    return helm(*template_args(values_files, sets)).stdout


def render(values_files: tuple[Path, ...] = (), sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The objects `helm template` renders. Parsed afresh on each call: tests may mutate them."""
    return [d for d in yaml.load_all(render_text(values_files, sets), Loader=_LOADER) if d]


def render_ci(name: str, *sets: str) -> list[dict[str, Any]]:
    return render((CI_DIR / name,), tuple(sets))


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def ident(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


# ---- pods and containers -------------------------------------------------------------

@dataclass
class PodView:
    """A pod spec wherever it sits: Deployment/Job templates, a Pod, or a KServe predictor."""

    owner: str
    spec: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)

    def containers(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for c in self.spec.get("initContainers", []):
            yield f"{self.owner} init:{c['name']}", c
        for c in self.spec.get("containers", []):
            yield f"{self.owner} {c['name']}", c


def _merge_by_name(base: list[dict[str, Any]], patch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A strategic-merge list keyed by name (containers, volumes, volumeMounts, env)."""
    out = {item["name"]: dict(item) for item in base}
    for item in patch:
        out[item["name"]] = {**out.get(item["name"], {}), **item}
    return list(out.values())


def _patch_container(container: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = {**container, **{k: v for k, v in patch.items() if k != "volumeMounts"}}
    if "volumeMounts" in patch:
        out["volumeMounts"] = _merge_by_name(container.get("volumeMounts", []), patch["volumeMounts"])
    return out


def trainjob_pod(trainjob: dict[str, Any], runtime: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod template metadata, pod spec) of a TrainJob's trainer pods as Kubeflow Trainer v2.3.0
    builds them: the runtime's `node` job (default: the vendored torch-distributed runtime), its
    `node` container given spec.trainer's image, command, args, env and resourcesPerNode, then the
    runtimePatches merged in. The PET_* variables and the port the controller adds are left out:
    the control-plane tier checks those on the pods the real controller makes."""
    runtime = runtime or yaml.load(TORCH_RUNTIME.read_text(), Loader=_LOADER)
    (rjob,) = [j for j in runtime["spec"]["template"]["spec"]["replicatedJobs"] if j["name"] == "node"]
    template = copy.deepcopy(rjob["template"]["spec"]["template"])
    meta, spec = template.get("metadata", {}), template["spec"]
    trainer = trainjob["spec"]["trainer"]
    (node,) = [c for c in spec["containers"] if c["name"] == "node"]
    node.update({k: trainer[k] for k in ("image", "command", "args") if k in trainer})
    node["env"] = _merge_by_name(node.get("env", []), trainer.get("env", []))
    if "resourcesPerNode" in trainer:
        node["resources"] = trainer["resourcesPerNode"]
    for patch in trainjob["spec"].get("runtimePatches", []):
        for pj in patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]:
            if pj["name"] != rjob["name"]:
                continue
            pt = pj["template"]["spec"]["template"]
            for key in ("labels", "annotations"):
                meta[key] = {**meta.get(key, {}), **pt.get("metadata", {}).get(key, {})}
            ps = pt.get("spec", {})
            for key, value in ps.items():
                if key == "containers":
                    by_name = {p["name"]: p for p in value}
                    spec["containers"] = [_patch_container(c, by_name[c["name"]]) if c["name"] in by_name else c
                                          for c in spec["containers"]]
                elif key == "volumes":
                    spec["volumes"] = _merge_by_name(spec.get("volumes", []), value)
                else:
                    spec[key] = value
    return meta, spec


def pod_views(objects: list[dict[str, Any]]) -> list[PodView]:
    views = []
    for o in objects:
        kind, name = o["kind"], o["metadata"]["name"]
        if kind == "TrainJob":
            meta, spec = trainjob_pod(o)
            views.append(PodView(f"TrainJob/{name}", spec, meta.get("labels", {})))
        elif kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            t = o["spec"]["template"]
            views.append(PodView(f"{kind}/{name}", t["spec"], t["metadata"].get("labels", {})))
        elif kind == "Pod":
            views.append(PodView(f"Pod/{name}", o["spec"], o["metadata"].get("labels", {})))
        elif kind == "InferenceService":
            p = o["spec"]["predictor"]
            views.append(PodView(f"InferenceService/{name} predictor", p, p.get("labels", {})))
            for c in o["spec"].get("canary", []):
                cp = c["predictor"]
                views.append(PodView(f"InferenceService/{name} canary {cp.get('name')}", cp, cp.get("labels", {})))
    return views


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value, or name -> {'secret': name, 'key': key} for secretKeyRef entries."""
    out: dict[str, Any] = {}
    for e in container.get("env", []):
        if "value" in e:
            out[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            out[e["name"]] = {"secret": ref["name"], "key": ref["key"]}
    return out


# ---- CRD schemas ---------------------------------------------------------------------

def _strict(schema: Any) -> Any:
    """The API server prunes unknown fields of custom resources silently, and rejects them
    under `kubectl apply --validate=strict`: close every object schema that lists its
    properties, unless it preserves unknown fields, so a typo in a rendered field fails."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.lru_cache(maxsize=None)
def crd_schema(group: str, kind: str, version: str) -> dict[str, Any]:
    """The strict openAPIV3Schema of a served CRD version; KeyError when there is none."""
    path = CRD_FILES[(group, kind)]
    crd = yaml.load(path.read_text(), Loader=_LOADER)
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind, path
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            if not v.get("served", False):
                raise KeyError(f"{group}/{version} {kind} is not served by {path.name}")
            return _strict(copy.deepcopy(v["schema"]["openAPIV3Schema"]))
    raise KeyError(f"{path.name} has no version {version} of {kind}")


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


# ---- values --------------------------------------------------------------------------

def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return over


def effective_values(*values_files: Path) -> dict[str, Any]:
    """Chart defaults merged with the given values files (Helm's precedence, maps merged)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for f in values_files:
        values = _merge(values, yaml.safe_load(f.read_text()) or {})
    return values


def model_uri(ref: dict[str, Any]) -> str:
    if ref.get("version") is not None:
        return f"models:/{ref['registeredModel']}/{ref['version']}"
    return f"models:/{ref['registeredModel']}@{ref['alias']}"


def slot(ref: dict[str, Any]) -> str:
    return f"v{ref['version']}" if ref.get("version") is not None else ref["alias"]
