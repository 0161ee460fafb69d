"""Reading a release's live rollout from the Kubernetes API: which model versions get which
share of the traffic, and whether each is Ready.

Everything goes through a small API layer (`KubeApi`: list and get objects by group, version,
plural) so that the logic runs against a live cluster (`KubernetesApi`, the `kubernetes`
client, in-cluster or from KUBECONFIG) or against recorded API objects (`RecordedApi`, YAML
or JSON files such as tests/fixtures/k8s/*.yaml). No cluster can run on the development
machines; the tests exercise `rollout_status` on recorded objects of every mode.

The chart (charts/credit-score) labels every InferenceService `app.kubernetes.io/instance:
<release>`, `app.kubernetes.io/component: predictor` and the routes `component: rollout`;
the model of a predictor is the `MODEL_URI` environment variable of its model container
(`models:/<name>/<version>` or `models:/<name>@<alias>`). The three modes:

- knative: one InferenceService; `spec.predictor.canaryTrafficPercent` gives the latest
  revision (the canary model) that share and the previous rolled-out revision the rest.
  `status.components.predictor.traffic` lists the revisions with `percent`; the model of the
  previous revision is read from its Knative Revision object.
- standard (KServe >= 0.20): one InferenceService, `spec.predictor` (stable) and
  `spec.canary[]` (`trafficPercent` + `predictor`); readiness of canaries from
  `status.canaryStatuses[]` (`name`, `ready`, `trafficPercent`).
- gateway: one InferenceService per model and a Gateway API HTTPRoute (and GRPCRoute) whose
  weighted `backendRefs` name the predictor Services `<isvc>-predictor`; first backend stable,
  second canary (names ending `-stable`/`-canary` also tell the role); a `RequestMirror`
  filter mirrors every request to the canary (shadow).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from credit_model.model_uri import ModelUri, ModelUriError, parse_model_uri

ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
HTTPROUTE = ("gateway.networking.k8s.io", "v1", "httproutes")
GRPCROUTE = ("gateway.networking.k8s.io", "v1", "grpcroutes")
REVISION = ("serving.knative.dev", "v1", "revisions")
POD = ("", "v1", "pods")
KINDS = {"inferenceservices": "InferenceService", "httproutes": "HTTPRoute", "grpcroutes": "GRPCRoute",
         "revisions": "Revision", "pods": "Pod"}
MODEL_CONTAINER = "kserve-container"


class KubeApi(Protocol):
    def list(self, gvp: tuple[str, str, str], namespace: str, label_selector: str | None = None) -> list[dict]: ...

    def get(self, gvp: tuple[str, str, str], namespace: str, name: str) -> dict | None: ...


def _matches(obj: dict, label_selector: str | None) -> bool:
    if not label_selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in label_selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


class RecordedApi:
    """Recorded API objects (a list, `kind: List` documents or multi-document YAML/JSON files),
    answering like the API server would for list (equality label selectors) and get."""

    def __init__(self, objects: list[dict]) -> None:
        self.objects = objects

    @classmethod
    def from_files(cls, *paths: str | Path) -> RecordedApi:
        objects: list[dict] = []
        for path in paths:
            text = Path(path).read_text()
            docs = [json.loads(text)] if str(path).endswith(".json") else list(yaml.safe_load_all(text))
            for doc in docs:
                if not doc:
                    continue
                objects.extend(doc.get("items", []) if doc.get("kind", "").endswith("List") else [doc])
        return cls(objects)

    def _of(self, gvp: tuple[str, str, str], namespace: str) -> list[dict]:
        group, version, plural = gvp
        api_version = f"{group}/{version}" if group else version
        return [o for o in self.objects if o.get("apiVersion") == api_version and o.get("kind") == KINDS[plural]
                and (o.get("metadata") or {}).get("namespace", namespace) == namespace]

    def list(self, gvp, namespace, label_selector=None):  # noqa: ANN001
        return [o for o in self._of(gvp, namespace) if _matches(o, label_selector)]

    def get(self, gvp, namespace, name):  # noqa: ANN001
        return next((o for o in self._of(gvp, namespace) if o["metadata"]["name"] == name), None)


class KubernetesApi:
    """The live API through the `kubernetes` client: in-cluster config, else KUBECONFIG."""

    def __init__(self, context: str | None = None) -> None:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config(context=context)
        self._custom = client.CustomObjectsApi()
        self._core = client.CoreV1Api()
        self._client = client

    def list(self, gvp, namespace, label_selector=None):  # noqa: ANN001
        group, version, plural = gvp
        try:
            if not group:
                result = self._client.ApiClient().sanitize_for_serialization(
                    self._core.list_namespaced_pod(namespace, label_selector=label_selector))
            else:
                result = self._custom.list_namespaced_custom_object(group, version, namespace, plural,
                                                                     label_selector=label_selector or "")
        except self._client.ApiException as e:
            if e.status == 404:  # the CRD is not installed (e.g. no Gateway API): nothing of that kind
                return []
            raise
        return result.get("items", [])

    def get(self, gvp, namespace, name):  # noqa: ANN001
        group, version, plural = gvp
        try:
            if not group:
                return self._client.ApiClient().sanitize_for_serialization(self._core.read_namespaced_pod(name, namespace))
            return self._custom.get_namespaced_custom_object(group, version, namespace, plural, name)
        except self._client.ApiException as e:
            if e.status == 404:
                return None
            raise


# -- the status ------------------------------------------------------------------------------

@dataclass
class Backend:
    role: str
    """stable, canary, shadow (gets a mirror of every request, answers nobody), previous
    (knative: an older revision still routed), unrouted (gateway: no route sends it traffic)."""
    predictor: str
    """Where it lives: InferenceService name, spec path or revision."""
    model_uri: str | None
    percent: float
    ready: bool | None
    """None: unknown (no status recorded)."""

    def _uri(self) -> ModelUri | None:
        try:
            return parse_model_uri(self.model_uri or "")
        except ModelUriError:
            return None

    @property
    def version(self) -> str | None:
        """The registered version ('2') or alias ('@champion') of the model URI."""
        uri = self._uri()
        if uri is None:
            return None
        return uri.version or f"@{uri.alias}"

    @property
    def registered_model(self) -> str | None:
        uri = self._uri()
        return uri.name if uri else None


@dataclass
class RolloutStatus:
    release: str
    namespace: str
    mode: str
    backends: list[Backend] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def role(self, role: str) -> Backend | None:
        return next((b for b in self.backends if b.role == role), None)

    @property
    def shadow(self) -> bool:
        return any(b.role == "shadow" for b in self.backends)

    @property
    def canary_percent(self) -> int:
        return int(round(sum(b.percent for b in self.backends if b.role == "canary")))

    def to_dict(self) -> dict:
        d = asdict(self)
        for b, out in zip(self.backends, d["backends"]):
            out["version"] = b.version
        d["shadow"], d["canary_percent"] = self.shadow, self.canary_percent
        stable, canary = self.role("stable"), self.role("canary") or self.role("shadow")
        d["stable_version"] = stable.version if stable else None
        d["canary_version"] = canary.version if canary else None
        return d

    def table(self) -> str:
        lines = [f"release {self.release} (namespace {self.namespace}), mode {self.mode}"
                 + (", shadow: canary gets a mirror of every request" if self.shadow else "")]
        rows = [("ROLE", "SHARE", "READY", "VERSION", "MODEL", "PREDICTOR")]
        for b in self.backends:
            share = "mirror" if b.role == "shadow" else f"{b.percent:g}%"
            ready = {True: "yes", False: "NO", None: "?"}[b.ready]
            rows.append((b.role, share, ready, b.version or "?", b.model_uri or "?", b.predictor))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines += [f"route: {r}" for r in self.routes]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def release_selector(release: str, component: str) -> str:
    return f"app.kubernetes.io/instance={release},app.kubernetes.io/component={component}"


def model_uri_of(pod_spec: dict) -> str | None:
    """MODEL_URI of the model container (`kserve-container`, else the first container)."""
    containers = pod_spec.get("containers") or []
    container = next((c for c in containers if c.get("name") == MODEL_CONTAINER), containers[0] if containers else None)
    for env in (container or {}).get("env") or []:
        if env.get("name") == "MODEL_URI":
            return env.get("value")
    return None


def _condition(obj: dict, *types: str) -> bool | None:
    conditions = {c.get("type"): c.get("status") for c in ((obj.get("status") or {}).get("conditions") or [])}
    for t in types:
        if t in conditions:
            return conditions[t] == "True"
    return None


def detect_mode(isvcs: list[dict], routes: list[dict]) -> str:
    """gateway (the chart's default): routes of the release, several InferenceServices, or one
    whose predictor has no name (the chart names standard-mode predictors by their model, so
    the default release without a canary is recognised even where the routes cannot be read);
    knative: Knative deployment mode or canaryTrafficPercent; else standard."""
    if routes or len(isvcs) > 1:
        return "gateway"
    isvc = isvcs[0] if isvcs else {}
    annotations = (isvc.get("metadata") or {}).get("annotations") or {}
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    if annotations.get("serving.kserve.io/deploymentMode", "").lower() in {"knative", "serverless"} \
            or "canaryTrafficPercent" in predictor:
        return "knative"
    if isvc and not predictor.get("name") and not (isvc.get("spec") or {}).get("canary"):
        return "gateway"
    return "standard"


def rollout_status(api: KubeApi, release: str, namespace: str, mode: str | None = None) -> RolloutStatus:
    """The live split of a release's predictors (see the module docstring)."""
    isvcs = api.list(ISVC, namespace, release_selector(release, "predictor"))
    http = api.list(HTTPROUTE, namespace, release_selector(release, "rollout"))
    grpc = api.list(GRPCROUTE, namespace, release_selector(release, "rollout"))
    mode = mode or detect_mode(isvcs, http + grpc)
    status = RolloutStatus(release, namespace, mode)
    if not isvcs:
        status.warnings.append(f"no InferenceService labelled app.kubernetes.io/instance={release} in {namespace}")
        return status
    if mode == "knative":
        _knative(api, namespace, isvcs[0], status)
    elif mode == "standard":
        _standard(isvcs[0], status)
    else:
        _gateway(isvcs, http, grpc, status)
    order = ["stable", "canary", "shadow", "previous", "unrouted"]
    status.backends.sort(key=lambda b: order.index(b.role) if b.role in order else len(order))
    return status


def _knative(api: KubeApi, namespace: str, isvc: dict, status: RolloutStatus) -> None:
    name = isvc["metadata"]["name"]
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    latest_uri = model_uri_of(predictor)
    component = (((isvc.get("status") or {}).get("components") or {}).get("predictor")) or {}
    traffic = [t for t in component.get("traffic") or [] if t.get("percent") is not None]
    has_canary = "canaryTrafficPercent" in predictor
    if not traffic:  # not reconciled yet: the spec is all there is
        pct = float(predictor.get("canaryTrafficPercent", 100))
        status.warnings.append(f"{name}: no traffic in status yet (not reconciled?); shares from the spec")
        if has_canary:  # the rest goes to the previous rolled-out revision, whose model only its Revision knows
            status.backends.append(Backend("stable", f"{name} (previous revision)", None, 100.0 - pct, None))
        status.backends.append(Backend("canary" if has_canary else "stable", f"{name} (latest revision)", latest_uri, pct,
                                       _condition(isvc, "PredictorReady", "Ready")))
        return
    for t in traffic:
        revision = t.get("revisionName", "?")
        latest = bool(t.get("latestRevision"))
        rev_obj = api.get(REVISION, namespace, revision) if revision != "?" else None
        uri = model_uri_of(rev_obj.get("spec") or {}) if rev_obj else None
        if latest and uri is None:
            uri = latest_uri
        ready = _condition(rev_obj, "Ready") if rev_obj else None
        if ready is None and latest:
            ready = _condition(isvc, "PredictorReady", "Ready")
        if uri is None:
            status.warnings.append(f"revision {revision}: its Revision object is not readable, model unknown")
        # with canaryTrafficPercent: latest = canary, previous = stable; without: latest = stable
        role = ("canary" if latest else "stable") if has_canary else ("stable" if latest else "previous")
        tag = f", tag {t['tag']}" if t.get("tag") else ""
        status.backends.append(Backend(role, f"{name} revision {revision}{tag}", uri, float(t["percent"]), ready))
    if has_canary and int(predictor["canaryTrafficPercent"]) != status.canary_percent:
        status.warnings.append(f"{name}: spec canaryTrafficPercent {predictor['canaryTrafficPercent']} but status routes "
                               f"{status.canary_percent}% to the latest revision (still rolling out?)")


def _standard(isvc: dict, status: RolloutStatus) -> None:
    name = isvc["metadata"]["name"]
    spec = isvc.get("spec") or {}
    canaries = spec.get("canary") or []
    canary_statuses = {c.get("name"): c for c in ((isvc.get("status") or {}).get("canaryStatuses") or [])}
    total = sum(int(c.get("trafficPercent", 0)) for c in canaries)
    predictor = spec.get("predictor") or {}
    status.backends.append(Backend("stable", f"{name} spec.predictor" + (f" ({predictor['name']})" if predictor.get("name") else ""),
                                   model_uri_of(predictor), float(max(100 - total, 0)), _condition(isvc, "PredictorReady", "Ready")))
    for i, c in enumerate(canaries):
        p = c.get("predictor") or {}
        st = canary_statuses.get(p.get("name")) or (list(canary_statuses.values())[i] if i < len(canary_statuses) else None)
        if st is not None and int(st.get("trafficPercent", -1)) != int(c.get("trafficPercent", 0)):
            status.warnings.append(f"{name}: canary[{i}] spec trafficPercent {c.get('trafficPercent')} but status "
                                   f"{st.get('trafficPercent')} (still rolling out?)")
        status.backends.append(Backend("canary", f"{name} spec.canary[{i}]" + (f" ({p['name']})" if p.get("name") else ""),
                                       model_uri_of(p), float(c.get("trafficPercent", 0)), st.get("ready") if st else None))
    if total > 100:
        status.warnings.append(f"{name}: canary trafficPercent adds up to {total} > 100")


def _gateway(isvcs: list[dict], http: list[dict], grpc: list[dict], status: RolloutStatus) -> None:
    by_service = {f"{i['metadata']['name']}-predictor": i for i in isvcs}
    splits: dict[str, list[tuple[str, str, float]]] = {}
    for route in http + grpc:
        rname = f"{route['kind']}/{route['metadata']['name']}"
        rules = (route.get("spec") or {}).get("rules") or []
        if len(rules) != 1:
            status.warnings.append(f"{rname}: {len(rules)} rules; reading the first")
        rule = rules[0] if rules else {}
        refs = rule.get("backendRefs") or []
        weights = [float(r.get("weight", 1)) for r in refs]
        total = sum(weights) or 1.0
        split = []
        for i, (ref, w) in enumerate(zip(refs, weights)):
            svc = ref["name"]
            role = "stable" if i == 0 else "canary"
            for suffix in ("stable", "canary"):
                if svc.removesuffix("-predictor").endswith(f"-{suffix}"):
                    role = suffix
            split.append((role, svc, 100.0 * w / total))
        for f in rule.get("filters") or []:
            if f.get("type") == "RequestMirror":
                split.append(("shadow", f["requestMirror"]["backendRef"]["name"], 0.0))
        splits[rname] = split
        status.routes.append(f"{rname}: " + ", ".join(f"{svc} {'mirror' if role == 'shadow' else f'{pct:g}%'}"
                                                         for role, svc, pct in split))
    if not splits:
        status.warnings.append("gateway mode but no HTTPRoute/GRPCRoute of the release")
        for isvc in isvcs:
            status.backends.append(_isvc_backend(isvc, "unrouted", 0.0))
        return
    first_name, first = next(iter(splits.items()))
    for rname, split in splits.items():
        if [(r, s.removesuffix("-predictor"), round(p)) for r, s, p in split] != \
                [(r, s.removesuffix("-predictor"), round(p)) for r, s, p in first]:
            status.warnings.append(f"{rname} splits differently from {first_name}")
    for role, svc, pct in first:
        isvc = by_service.get(svc)
        if isvc is None:
            status.warnings.append(f"{first_name}: backend {svc} is not a predictor Service of the release")
            status.backends.append(Backend(role, svc, None, pct, None))
        else:
            status.backends.append(_isvc_backend(isvc, role, pct))
    routed = {svc for split in splits.values() for _, svc, _ in split}
    for svc, isvc in by_service.items():
        if svc not in routed:
            status.backends.append(_isvc_backend(isvc, "unrouted", 0.0))


def _isvc_backend(isvc: dict, role: str, pct: float) -> Backend:
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    return Backend(role, isvc["metadata"]["name"], model_uri_of(predictor), pct, _condition(isvc, "Ready", "PredictorReady"))


def predictor_pod_urls(api: KubeApi, namespace: str, isvc_name: str, port: int = 8080) -> list[str]:
    """Base URLs of the ready pods of an InferenceService (KServe labels its pods
    `serving.kserve.io/inferenceservice=<name>`): for per-pod /metrics and decision logs."""
    urls = []
    for pod in api.list(POD, namespace, f"serving.kserve.io/inferenceservice={isvc_name}"):
        ip = (pod.get("status") or {}).get("podIP")
        if ip and _condition(pod, "Ready") is not False:
            urls.append(f"http://{ip}:{port}")
    return sorted(urls)
