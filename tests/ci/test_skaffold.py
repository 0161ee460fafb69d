"""skaffold.yaml: current v4beta schema, both Dockerfiles as artifacts, a Helm release of the
chart whose setValueTemplates set exactly the image values the chart reads, and a kind
profile that uses the e2e values. The wiring is checked by rendering the chart with what
skaffold would substitute."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.chart.support import CHART, REPO, render

SKAFFOLD = REPO / "skaffold.yaml"
IMAGE_KEYS = {"image.registry", "image.train.repository", "image.train.tag", "image.serve.repository", "image.serve.tag"}


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(SKAFFOLD.read_text())


@pytest.fixture(scope="module")
def release(config) -> dict:
    (rel,) = config["deploy"]["helm"]["releases"]
    return rel


def template_var(image: str, what: str) -> str:
    """Skaffold's template variable for an artifact: IMAGE_REPO_<name>, non-alphanumerics as _."""
    return f"IMAGE_{what}_" + re.sub(r"[^A-Za-z0-9]", "_", image)


def test_schema_version_and_artifacts(config) -> None:
    assert re.fullmatch(r"skaffold/v4beta(1[1-3])", config["apiVersion"]), config["apiVersion"]
    assert config["kind"] == "Config"
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    assert set(artifacts) == {"credit-score-train", "credit-score-serve"}
    for image, art in artifacts.items():
        dockerfile = REPO / art.get("context", ".") / art["docker"]["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        assert dockerfile.name == f"Dockerfile.{image.rsplit('-', 1)[1]}"
    assert config["build"]["local"]["push"] is False


def test_release_names_the_chart(release) -> None:
    chart = REPO / release["chartPath"]
    assert chart.resolve() == CHART.resolve() and (chart / "Chart.yaml").is_file()


def test_set_value_templates_are_exactly_the_image_values_the_chart_reads(release) -> None:
    sets = release["setValueTemplates"]
    assert set(sets) == IMAGE_KEYS
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    templates = "\n".join(p.read_text() for p in (CHART / "templates").rglob("*.tpl")) + \
        "\n".join(p.read_text() for p in (CHART / "templates").rglob("*.yaml"))
    for key in IMAGE_KEYS:
        node = values
        for part in key.split("."):
            node = node[part]          # KeyError: skaffold would set a value the chart does not have
        assert f".Values.{key}" in templates, f"no template reads .Values.{key}"
    # each key gets the variable of its own artifact; the registry is the (shared) domain
    assert sets["image.registry"] == "{{." + template_var("credit-score-serve", "DOMAIN") + "}}"
    for key, tmpl in sets.items():
        if key == "image.registry":
            continue
        component, field = key.split(".")[1:]
        what = "REPO_NO_DOMAIN" if field == "repository" else "TAG"
        assert tmpl == "{{." + template_var(f"credit-score-{component}", what) + "}}", (key, tmpl)


def test_rendered_images_are_what_skaffold_built(helm_tool, release) -> None:
    """Substitute what skaffold would with `--default-repo localhost:5001/ml` (domain, repository
    without it, a gitCommit tag) and render with the kind profile's values."""
    env = {}
    for component in ("train", "serve"):
        image = f"credit-score-{component}"
        env[template_var(image, "DOMAIN")] = "localhost:5001"
        env[template_var(image, "REPO_NO_DOMAIN")] = f"ml/{image}"
        env[template_var(image, "TAG")] = "3f2c1ab-dirty"
    var = re.compile(r"\{\{\.(\w+)\}\}")
    sets = tuple(f"{k}={var.sub(lambda m: env[m.group(1)], v)}" for k, v in release["setValueTemplates"].items())
    objects = render((REPO / "manifests" / "values-kind.yaml",), sets)
    images = {c["image"] for o in objects for c in _containers(o)}
    assert images == {"localhost:5001/ml/credit-score-train:3f2c1ab-dirty", "localhost:5001/ml/credit-score-serve:3f2c1ab-dirty"}


def _containers(obj: dict):
    spec = obj.get("spec", {})
    pods = [spec.get("template", {}).get("spec", {})]
    if obj["kind"] == "Pod":
        pods.append(spec)
    if obj["kind"] == "InferenceService":
        pods.append(spec["predictor"])
        pods += [c["predictor"] for c in spec.get("canary", [])]
    for pod in pods:
        yield from pod.get("containers", [])
        yield from pod.get("initContainers", [])


def test_kind_profile(config) -> None:
    (profile,) = [p for p in config["profiles"] if p["name"] == "kind"]
    assert {"kubeContext": "kind-credit-score"} in profile["activation"]
    patched = {p["path"]: p["value"] for p in profile["patches"]}
    files = patched["/deploy/helm/releases/0/valuesFiles"]
    assert files == ["manifests/values-kind.yaml"] and all((REPO / f).is_file() for f in files)
    assert patched["/deploy/kubeContext"] == "kind-credit-score"
    kind_cfg = yaml.safe_load((REPO / "manifests" / "kind-cluster.yaml").read_text())
    assert f"kind-{kind_cfg['name']}" == "kind-credit-score"
