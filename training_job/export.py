"""Exporting a fitted model as the artifact (see credit_model.artifact): ONNX + JSON."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import torch

from credit_model.artifact import ONNX_OUTPUT, ArtifactSpec, Band, Scoring, write_artifact
from credit_model.drift import DriftReference, drift_reference
from credit_model.frames import frame_to_columns
from credit_model.scoring import score_points
from training_job.config import ScoringConfig, TrainConfig
from training_job.network import Ensemble, StackedEnsemble
from training_job.pipeline import FittedModel

ONNX_OPSET = 17
# The exported graph must reproduce the in-memory network to float32 rounding.
MAX_LOGIT_DIFF = 1e-4


def onnx_bytes(fm: FittedModel, sample: dict[str, np.ndarray]) -> bytes:
    names = fm.network_info.inputs
    args = tuple(torch.as_tensor(sample[n][:2]) for n in names)
    net = StackedEnsemble(fm.net).eval() if isinstance(fm.net, Ensemble) else fm.net
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter is deprecated in favour of torch.export's, which needs
        # onnxscript; for an MLP both give the same graph and this one has no extra dependency.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            args,
            buf,
            input_names=names,
            output_names=[ONNX_OUTPUT],
            dynamic_axes={**{n: {0: "batch"} for n in names}, ONNX_OUTPUT: {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return buf.getvalue()


def onnx_logits(network: bytes, inputs: dict[str, np.ndarray]) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(network, options, providers=["CPUExecutionProvider"])
    return session.run([ONNX_OUTPUT], inputs)[0]


def scoring_params(s: ScoringConfig) -> Scoring:
    return Scoring(
        pdo=s.pdo,
        base_score=s.base_score,
        base_odds=s.base_odds,
        bands=[Band(name=b.name, min_score=b.min_score) for b in s.bands],
        adverse_decisions=s.adverse_decisions,
        reason_codes=s.reason_codes,
    )


def training_reference(fm: FittedModel, cfg: TrainConfig, train_frame: pd.DataFrame) -> DriftReference:
    """The training split's distribution of every input and of the score: what drift is measured against."""
    points = score_points(fm.predict_pd(train_frame), scoring_params(cfg.scoring))
    kinds = {f.name: (f.kind, f.categories) for f in fm.features}
    return drift_reference(frame_to_columns(train_frame, fm.features), kinds, points)


def build_spec(
    fm: FittedModel, cfg: TrainConfig, network: bytes, metrics: dict[str, float], training: dict[str, str],
    reference: DriftReference | None = None,
) -> ArtifactSpec:
    info = fm.network_info.model_copy(update={"sha256": hashlib.sha256(network).hexdigest()})
    return ArtifactSpec(
        model_name=cfg.registry.model_name,
        network=info,
        features=fm.features,
        calibration=fm.calibration,
        scoring=scoring_params(cfg.scoring),
        metrics=metrics,
        training=training,
        reference=reference,
    )


def export_artifact(
    fm: FittedModel,
    cfg: TrainConfig,
    check_frame: pd.DataFrame,
    directory: Path,
    metrics: dict[str, float],
    training: dict[str, str],
    reference: DriftReference | None = None,
) -> tuple[ArtifactSpec, str]:
    """Write the artifact after proving the ONNX graph reproduces the network on `check_frame`."""
    inputs = fm.encode(check_frame)
    network = onnx_bytes(fm, inputs)
    diff = float(np.max(np.abs(onnx_logits(network, inputs) - fm.logits(check_frame))))
    if not diff <= MAX_LOGIT_DIFF:
        raise RuntimeError(f"ONNX export does not reproduce the network: max |logit diff| = {diff:.2e}")
    spec = build_spec(fm, cfg, network, metrics, training, reference)
    digest = write_artifact(directory, spec, network)
    return spec, digest
