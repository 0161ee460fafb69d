"""Where the web client learns what the v2 metadata cannot say: allowed categories, ranges,
whether a value may be missing, and the plain-language reason texts.

KServe's metadata (`GET /v2/models/{name}`) lists each input's name, datatype and shape only
(its MetadataTensor has no room for more). The model artifact's feature spec has the rest,
and `credit_model.artifact` is the one module that reads it. Sources, one seam:

* `ArtifactSpecSource` – (a) an artifact folder on disk (`ARTIFACT=/path`: the folder holding
  `artifact.json`, or one above it such as a downloaded MLflow model) or a registry URI
  (`ARTIFACT=models:/credit-score@champion`, downloaded once through MLflow with
  `MLFLOW_TRACKING_URI`, exactly as the predictor resolves it).
* `PredictorSpecSource` – (b) the predictor's own `GET /v2/models/{name}/spec` (served by
  kserve_model.spec_route), the default when ARTIFACT is unset: the predictor that scores is the
  one that says what it accepts. A 404 means "not there" (another v2 server): the form then
  falls back to metadata only.

Every source returns `{feature name: FeatureHints}`; a source that fails returns nothing and
says why, and the form still works from the metadata alone (free-text categories).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureHints:
    kind: str | None = None
    dtype: str | None = None
    min: float | None = None
    max: float | None = None
    categories: list[str] = field(default_factory=list)
    missing_allowed: bool = False
    reason: str | None = None
    code: str | None = None
    example: float | str | None = None
    """A value to prefill: the feature's reference (most favourable) value from training."""


@dataclass(frozen=True)
class SpecResult:
    hints: dict[str, FeatureHints]
    source: str
    """Human-readable origin, e.g. `artifact /path (sha256:ab12…)` or `none: <why>`."""
    model_version: str | None = None
    artifact_digest: str | None = None


class SpecSource(Protocol):
    def load(self) -> SpecResult: ...


def hints_from_spec(raw_features: list[dict]) -> dict[str, FeatureHints]:
    """The artifact's `features` list (as JSON dicts) → hints by name."""
    out: dict[str, FeatureHints] = {}
    for f in raw_features:
        example = f.get("baseline")
        if f.get("kind") == "numeric" and isinstance(example, (int, float)):
            lo, hi = f.get("min"), f.get("max")
            if lo is not None:
                example = max(example, lo)
            if hi is not None:
                example = min(example, hi)
            example = round(example) if f.get("dtype") == "int" else round(example, 4)
        out[f["name"]] = FeatureHints(
            kind=f.get("kind"), dtype=f.get("dtype"), min=f.get("min"), max=f.get("max"),
            categories=list(f.get("categories") or []), missing_allowed=f.get("missing") == "allow",
            reason=f.get("reason"), code=f.get("code"), example=example,
        )
    return out


class NoSpecSource:
    def __init__(self, why: str = "no ARTIFACT configured") -> None:
        self.why = why

    def load(self) -> SpecResult:
        return SpecResult({}, f"none: {self.why}")


class ArtifactSpecSource:
    """(a) The artifact itself: a folder, or a models:/ URI resolved through MLflow."""

    def __init__(self, location: str, tracking_uri: str | None = None, cache_dir: Path | None = None,
                 deadline_s: float = 30.0) -> None:
        self.location = location
        self.tracking_uri = tracking_uri
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "client-web-artifacts"
        self.deadline_s = deadline_s

    def load(self) -> SpecResult:
        from credit_model.artifact import read_artifact

        version = None
        folder = Path(self.location)
        if self.location.startswith("models:/"):
            from kserve_model.resolve import resolve_model  # the predictor's own resolution

            ref = resolve_model(self.location, self.tracking_uri, self.cache_dir, self.deadline_s)
            folder, version = ref.local_dir, ref.version
        artifact = read_artifact(folder)
        raw = artifact.spec.model_dump(mode="json")["features"]
        return SpecResult(hints_from_spec(raw), f"artifact {self.location}", version, f"sha256:{artifact.digest}")


class PredictorSpecSource:
    """(b) `GET {predictor}/v2/models/{name}/spec` → the artifact's spec (served by kserve_model.spec_route)."""

    def __init__(self, predictor_url: str, model_name: str, client: httpx.Client | None = None) -> None:
        self.url = f"{predictor_url.rstrip('/')}/v2/models/{model_name}/spec"
        self.client = client or httpx.Client(timeout=10)

    def load(self) -> SpecResult:
        r = self.client.get(self.url)
        if r.status_code == 404:
            return SpecResult({}, f"none: {self.url} answered 404 (the predictor has no spec endpoint)")
        r.raise_for_status()
        body = r.json()
        return SpecResult(hints_from_spec(body["features"]), f"predictor {self.url}",
                          r.headers.get("x-model-version"), r.headers.get("x-artifact-digest"))


class CachedSpec:
    """Loads the spec lazily, keeps it for `ttl_s`, and never raises: a failure is reported
    in `source` and retried on the next call after a short pause."""

    def __init__(self, source: SpecSource, ttl_s: float = 300.0, retry_s: float = 5.0) -> None:
        self.source, self.ttl_s, self.retry_s = source, ttl_s, retry_s
        self._lock = threading.Lock()
        self._value: SpecResult | None = None
        self._expires = 0.0

    def get(self, refresh: bool = False) -> SpecResult:
        with self._lock:
            now = time.monotonic()
            if refresh or self._value is None or now >= self._expires:
                try:
                    self._value = self.source.load()
                    self._expires = now + self.ttl_s
                except Exception as e:  # noqa: BLE001 - any failure degrades to metadata-only
                    log.warning("feature spec not available from %s: %s", type(self.source).__name__, e)
                    self._value = SpecResult({}, f"none: {type(e).__name__}: {str(e)[:300]}")
                    self._expires = now + self.retry_s
            return self._value


def spec_source_from_settings(artifact: str | None, tracking_uri: str | None, predictor_url: str,
                              model_name: str, cache_dir: Path | None = None) -> SpecSource:
    """ARTIFACT=path|models:/…  → (a); ARTIFACT=predictor or unset → (b), which degrades to
    metadata only where the predictor publishes no spec."""
    if not artifact or artifact == "predictor":
        return PredictorSpecSource(predictor_url, model_name)
    return ArtifactSpecSource(artifact, tracking_uri, cache_dir)
