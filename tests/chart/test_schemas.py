"""Every object the chart renders, for every values file of the matrix, validates against a
real schema: core kinds with kubernetes-validate (strict) on the oldest and the newest
Kubernetes version it ships that the chart's kubeVersion accepts; InferenceService,
HTTPRoute, GRPCRoute and TrainJob against the CRD openAPIV3Schema (closed to unknown fields).
A kind with no schema is a failure, not a pass."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from .support import CRD_FILES, ci_values_files, crd_schema, helm, ident, render, template_args

pytestmark = pytest.mark.chart

CI_FILES = ci_values_files()


def _group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def is_custom(obj: dict) -> bool:
    return (_group(obj["apiVersion"]), obj["kind"]) in CRD_FILES


def helm_accepts(version: str) -> bool:
    proc = helm(*template_args(kube_version=f"v{version}"), check=False)
    assert proc.returncode == 0 or "kubeVersion" in proc.stderr, proc.stderr
    return proc.returncode == 0


@functools.lru_cache(maxsize=None)
def supported_kube_versions() -> tuple[str, str]:
    """The oldest and the newest of kubernetes-validate's versions that `helm template
    --kube-version` accepts for the chart (its kubeVersion constraint decides)."""
    versions = kv_utils.all_versions()
    oldest = next((v for v in versions if helm_accepts(v)), None)
    newest = next((v for v in reversed(versions) if helm_accepts(v)), None)
    assert oldest and newest, f"the chart's kubeVersion accepts none of {versions}"
    return oldest, newest


def test_kube_version_constraint_is_enforced(tools):
    oldest, newest = supported_kube_versions()
    assert oldest.startswith("1.29."), oldest  # Chart.yaml: kubeVersion >=1.29.0-0
    assert newest == kv_utils.latest_version()
    proc = helm(*template_args(kube_version="v1.28.9"), check=False)
    assert proc.returncode != 0 and "kubeVersion" in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def kube_versions(tools) -> tuple[str, str]:
    return supported_kube_versions()


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("edge", ["oldest", "newest"])
def test_core_objects_validate_against_kubernetes_schemas(tools, kube_versions, values: Path, edge: str):
    version = kube_versions[0] if edge == "oldest" else kube_versions[1]
    errors = []
    for obj in render((values,)):
        if is_custom(obj):
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(f"{ident(obj)}: no schema ({e.message})")
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{ident(obj)} at {'/'.join(map(str, e.absolute_path))}: {e.message}")
    assert not errors, f"Kubernetes {version}:\n" + "\n".join(errors)


@functools.lru_cache(maxsize=None)
def object_meta_validator(version: str) -> jsonschema.protocols.Validator:
    """Strict ObjectMeta from kubernetes-validate's definitions (CRDs only say `type: object`)."""
    defs = kv_utils.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)
    registry = Resource.from_contents(defs) @ Registry()
    schema = {"$ref": f"{defs['$id']}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_custom_resources_validate_against_crd_schemas(tools, crds, kube_versions, values: Path):
    errors = []
    for obj in render((values,)):
        if not is_custom(obj):
            continue
        group, version = obj["apiVersion"].split("/")
        try:
            schema = crd_schema(group, obj["kind"], version)
        except KeyError as e:
            errors.append(f"{ident(obj)}: {e}")
            continue
        for err in jsonschema.Draft7Validator(schema).iter_errors(obj):
            errors.append(f"{ident(obj)} at {'/'.join(map(str, err.absolute_path))}: {err.message}")
        for err in object_meta_validator(kube_versions[1]).iter_errors(obj["metadata"]):
            errors.append(f"{ident(obj)} metadata at {'/'.join(map(str, err.absolute_path))}: {err.message}")
    assert not errors, "\n".join(errors)


def test_crd_validation_is_strict(tools, crds):
    """The closed CRD schema catches a misspelt field that the API server would drop silently."""
    obj = next(o for o in render((CI_FILES[0],)) if o["kind"] == "InferenceService")
    bad = {**obj, "spec": {**obj["spec"], "predictor": {**obj["spec"]["predictor"], "canaryTrafficPercnt": 10}}}
    errors = list(jsonschema.Draft7Validator(crd_schema("serving.kserve.io", "InferenceService", "v1beta1")).iter_errors(bad))
    assert any("canaryTrafficPercnt" in e.message for e in errors), errors


def test_every_matrix_entry_renders_something_of_each_component(tools):
    """A guard against a matrix that validates nothing: counts per kind over the whole matrix."""
    counts = Counter(o["kind"] for f in CI_FILES for o in render((f,)))
    for kind in ("Deployment", "Service", "Job", "ConfigMap", "ServiceAccount", "NetworkPolicy",
                 "PersistentVolumeClaim", "Pod", "InferenceService", "HTTPRoute", "GRPCRoute", "TrainJob"):
        assert counts[kind] > 0, f"no {kind} anywhere in the matrix: {dict(counts)}"
