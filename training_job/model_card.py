"""The model card logged with every run: what the model is, how good, what not to use it for."""

from __future__ import annotations

from credit_model.artifact import ArtifactSpec
from training_job.config import TrainConfig


def model_card(spec: ArtifactSpec, cfg: TrainConfig, data: dict[str, str], fit: dict[str, str]) -> str:
    m = spec.metrics
    features = "\n".join(
        f"| {f.code} | `{f.name}` | {f.kind} | {f.missing} | {f.reason} |" for f in spec.features
    )
    bands = ", ".join(
        f"{b.name} (≥ {b.min_score})" if b.min_score is not None else f"{b.name} (otherwise)" for b in spec.scoring.bands
    )
    metric_rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(m.items()) if k.startswith("test_"))
    return f"""# Model card: {spec.model_name}

{cfg.description or "Probability-of-default model for consumer credit applications."}

## Data
- Source: `{data["source"]}` (sha256 `{data["digest"][:16]}…`), {data["rows"]} rows, default rate {data["default_rate"]}.
- Target: `{cfg.data.target}` = {cfg.data.positive_label!r} means default.
- Splits: stratified={cfg.split.stratified}, test {cfg.split.test_fraction:.0%}, validation {cfg.split.validation_fraction:.0%} of the rest, seed {cfg.split.seed}.
  Preprocessing (quantiles, vocabularies) was fitted on the training split only.

## Model
- PyTorch MLP {cfg.network.hidden_sizes}, {cfg.network.activation}, dropout {cfg.network.dropout},
  {cfg.network.normalization}; categorical embeddings; numeric embedding `{cfg.network.numeric_embedding.kind}`;
  {cfg.optimisation.seeds} seed(s) averaged. {fit["summary"]}
- Numerics: piecewise-linear quantile-to-normal transform (robust to heavy tails), missing/sentinel indicators.
- Calibration: {spec.calibration.method} on the validation split (a={spec.calibration.a:.4f}, b={spec.calibration.b:.4f}).
- Exported as ONNX with a JSON spec (artifact schema v{spec.schema_version}); no pickle anywhere.

## Performance (held-out test split)
| metric | value |
| --- | --- |
{metric_rows}

## Scoring
Points = offset + PDO/ln2 · ln(good:bad odds); {spec.scoring.base_score:g} points = odds {spec.scoring.base_odds:g}:1,
PDO {spec.scoring.pdo:g}. Bands: {bands}. Adverse decisions ({", ".join(spec.scoring.adverse_decisions)}) carry up
to {spec.scoring.reason_codes} reason codes: occlusion against a baseline (training median / most frequent
category), ranked by how much each feature raised the logit.

| code | feature | kind | missing | adverse reason text |
| --- | --- | --- | --- | --- |
{features}

## Intended use and limitations
- Intended: ranking and pricing support for credit decisions with a human in the loop for
  referred cases; reason codes support adverse-action notices.
- Not validated for populations, products or periods other than the training data's. Monitor the
  score distribution (PSI) and recalibrate when the default rate shifts.
- Check features such as age, sex or nationality against local law before use: the model
  learns whatever the data encodes. Drop them with `data.drop_columns` where required.
- Small data sets (e.g. German credit, 1,000 rows) give test metrics with wide confidence
  intervals; judge with repeated cross-validation (`python -m benchmarks.quality`).
"""
