"""The model artifact: the one contract between training and serving.

An artifact is a folder with two files:

* ``network.onnx`` – the network, pickle-free. Inputs (each present only when non-empty):
  ``numeric`` float32 [N, n_numeric] (quantile-normalised values), ``flags`` float32
  [N, n_flags] (missing/sentinel indicators), ``categorical`` int64 [N, n_categorical]
  (vocabulary indices, 0 = out-of-vocabulary or missing). Output ``logit`` float32 [N].
* ``artifact.json`` – everything else: schema version, the feature spec with the fitted
  transform parameters, calibration, scoring parameters, reason-code texts, metrics, and the
  sha256 of ``network.onnx``, and (schema 2) the training reference distributions for drift.

The artifact digest is the sha256 of ``artifact.json``'s bytes, which in turn pin the
network's bytes. Serving refuses a schema version it does not know. Nothing here unpickles.
Standard library + pydantic only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from credit_model.drift import DriftReference

SCHEMA_VERSION = 2
SUPPORTED_SCHEMA_VERSIONS = frozenset({1, 2})
"""2 added `reference` (the training distributions drift is measured against); a schema-1
artifact serves as before, without drift figures."""
SPEC_FILE = "artifact.json"
NETWORK_FILE = "network.onnx"
NETWORK_PLATFORM = "onnxruntime_onnx"
"""What runs the network, in the v2 protocol's `platform` vocabulary (Triton's names): ONNX by onnxruntime."""
ONNX_INPUTS = ("numeric", "flags", "categorical")
ONNX_OUTPUT = "logit"
MLFLOW_ARTIFACT_KEY = "credit_model"
"""Name of the artifact folder among an MLflow model's artifacts (the pyfunc flavour reads it there)."""


class ArtifactError(ValueError):
    """An artifact that cannot be served; the message says which file and why."""


class UnsupportedSchemaError(ArtifactError):
    pass


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericTransform(_Frozen):
    """Piecewise-linear map from raw value to a standard-normal score.

    ``quantiles`` are training-split quantiles of the raw value; ``normal_scores`` the normal
    quantiles at the same levels. Values outside the range clamp to the ends, which keeps
    heavy tails and sentinel codes from exploding the network's inputs.
    """

    quantiles: list[float]
    normal_scores: list[float]
    fill: float
    """Transformed value used for a missing value or a sentinel code (the training median)."""


class FeatureSpec(_Frozen):
    name: str
    kind: Literal["numeric", "categorical"]
    dtype: Literal["float", "int", "string"]
    missing: Literal["allow", "reject"]
    """Whether a request may leave this feature null/NaN."""
    code: str
    """Stable reason code, e.g. R03."""
    reason: str
    """Plain-language text of the adverse reason."""
    min: float | None = None
    """Lowest accepted value (numeric); None = unbounded."""
    max: float | None = None
    observed_min: float | None = None
    observed_max: float | None = None
    sentinels: list[float] = Field(default_factory=list)
    transform: NumericTransform | None = None
    categories: list[str] = Field(default_factory=list)
    """Sorted vocabulary; index i in the network is categories[i - 1], index 0 is out-of-vocabulary."""
    oov: Literal["bucket", "reject"] = "bucket"
    baseline: float | str | None = None
    """Reference value for reason codes: the feature's most favourable value (training_job.reason_baseline)."""
    numeric_index: int | None = None
    """Column of this feature in the ``numeric`` input."""
    flag_indices: list[int] = Field(default_factory=list)
    """Columns in ``flags``: the missing indicator first (if missing is allowed), then one per sentinel."""
    categorical_index: int | None = None


class Calibration(_Frozen):
    method: Literal["none", "platt", "temperature"] = "none"
    a: float = 1.0
    b: float = 0.0
    """PD = sigmoid(a * logit + b)."""


class Band(_Frozen):
    name: str
    min_score: int | None = None


class Scoring(_Frozen):
    pdo: float
    base_score: float
    base_odds: float
    bands: list[Band]
    adverse_decisions: list[str]
    reason_codes: int


class NetworkInfo(_Frozen):
    file: str = NETWORK_FILE
    sha256: str
    inputs: list[str]
    output: str = ONNX_OUTPUT
    n_numeric: int
    n_flags: int
    n_categorical: int


class ArtifactSpec(_Frozen):
    schema_version: int = SCHEMA_VERSION
    model_name: str
    network: NetworkInfo
    features: list[FeatureSpec]
    calibration: Calibration
    scoring: Scoring
    metrics: dict[str, float] = Field(default_factory=dict)
    training: dict[str, str] = Field(default_factory=dict)
    """Provenance: config fingerprint, data digest, seed, library versions."""
    reference: DriftReference | None = None
    """Training-split bins of every input and of the score (credit_model/drift.py)."""

    def feature(self, name: str) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class Artifact:
    spec: ArtifactSpec
    network: bytes
    digest: str
    """sha256 of artifact.json: names exactly what answered a request."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_artifact(directory: Path, spec: ArtifactSpec, network: bytes) -> str:
    """Write the two files and return the artifact digest."""
    if _sha256(network) != spec.network.sha256:
        raise ArtifactError("network bytes do not match spec.network.sha256")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / spec.network.file).write_bytes(network)
    body = json.dumps(spec.model_dump(mode="json"), indent=2, sort_keys=True).encode()
    (directory / SPEC_FILE).write_bytes(body)
    return _sha256(body)


def find_artifact_dir(root: Path) -> Path:
    """The folder holding artifact.json: root itself or one below it (an MLflow model's artifacts/)."""
    if (root / SPEC_FILE).is_file():
        return root
    found = sorted(p.parent for p in root.rglob(SPEC_FILE))
    if not found:
        raise ArtifactError(f"no {SPEC_FILE} under {root}")
    if len(found) > 1:
        raise ArtifactError(f"several artifacts under {root}: {[str(p) for p in found]}")
    return found[0]


def read_artifact(directory: Path) -> Artifact:
    """Read and verify an artifact; raises ArtifactError naming the problem."""
    directory = find_artifact_dir(Path(directory))
    body = (directory / SPEC_FILE).read_bytes()
    try:
        raw = json.loads(body)
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{directory / SPEC_FILE} is not valid JSON: {e}") from e
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise UnsupportedSchemaError(
            f"artifact schema_version {version!r} in {directory / SPEC_FILE} is not supported "
            f"(this server reads {sorted(SUPPORTED_SCHEMA_VERSIONS)})"
        )
    try:
        spec = ArtifactSpec.model_validate(raw)
    except ValidationError as e:
        raise ArtifactError(f"{directory / SPEC_FILE} does not match schema {version}: {e}") from e
    network_path = directory / spec.network.file
    if not network_path.is_file():
        raise ArtifactError(f"network file {network_path} is missing")
    network = network_path.read_bytes()
    if _sha256(network) != spec.network.sha256:
        raise ArtifactError(f"{network_path} is corrupt: its sha256 does not match {SPEC_FILE}")
    return Artifact(spec=spec, network=network, digest=_sha256(body))
