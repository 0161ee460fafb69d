"""The model card logged with every run: what the model is, how good, what not to use it for."""

from __future__ import annotations

import math

from credit_model.artifact import ArtifactSpec
from training_job.config import TrainConfig
from training_job.fairness import FairnessReport

PROXY_ROWS = 5
"""Strongest proxies per protected attribute shown in the card (all are in fairness/proxies.csv)."""


def _ci(g: dict, metric: str, fmt: str = ".3f") -> str:
    value = g[metric]
    if isinstance(value, float) and math.isnan(value):
        return "–"
    text = format(value, fmt)
    low, high = g.get(f"{metric}_low"), g.get(f"{metric}_high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return text
    return f"{text} [{format(low, fmt)}, {format(high, fmt)}]"


def age_policy_text(cfg: TrainConfig) -> str:
    age = cfg.data.age
    if age is None:
        return "- Age: not declared as an input (`data.age` unset)."
    return (f"- Age: `{age.feature}` is an input under Regulation B 1002.6(b)(2): every age >= {age.elderly_from:g} is\n"
            f"  encoded as the most favourable age (the minimum of the partial-dependence curve), so applicants\n"
            f"  aged {age.elderly_from:g}+ are never assigned a negative value for age and age is never one of their reasons.")


def fairness_section(report: FairnessReport | None, cfg: TrainConfig) -> str:
    if report is None:
        return f"""## Fair lending
- No protected attributes in this data (`data.protected` is empty): no fairness evaluation.
{age_policy_text(cfg)}
"""
    protected = ", ".join(f"`{p}`" for p in cfg.data.protected)
    rows = "\n".join(
        f"| `{g['attribute']}` | {g['group']} | {g['rows']}{' (small)' if g['small'] else ''} | {_ci(g, 'approval_rate')} | "
        f"{'–' if math.isnan(g['air']) else format(g['air'], '.3f')}{' ⚠' if g['below_threshold'] else ''} | "
        f"{_ci(g, 'mean_score', '.1f')} | {_ci(g, 'mean_pd')} | {_ci(g, 'auc')} | {_ci(g, 'brier')} | {_ci(g, 'ece')} |"
        for g in report.groups
    )
    proxies = "\n".join(
        f"| `{p['attribute']}` | `{p['feature']}` | {'–' if math.isnan(p['auc']) else format(p['auc'], '.3f')}"
        f"{' ⚠' if p['flagged'] else ''} | {p['mutual_information']:.4f} |"
        for name in report.attributes
        for p in [q for q in report.proxies if q["attribute"] == name][:PROXY_ROWS]
    )
    worst = report.worst()
    gate = cfg.registry.min_air
    if worst:
        interval = report.attributes[worst[0]]
        ci = (f", {report.confidence:.0%} interval [{interval['min_air_low']:.3f}, {interval['min_air_high']:.3f}]"
              if "min_air_low" in interval else "")
        summary = f"Lowest adverse impact ratio {report.min_air:.3f} (`{worst[0]}` = {worst[1]!r}{ci})."
    else:
        summary = f"No group has {report.min_group_rows}+ test rows: no adverse impact ratio is counted."
    gate_text = (f"Promotion gate: a version with a lowest AIR below `registry.min_air` = {gate:g} is registered "
                 "but never becomes champion." if gate is not None else "No fairness promotion gate (`registry.min_air` unset).")
    interval = f"{report.confidence:.0%} bootstrap intervals ({report.bootstrap} resamples)" if report.bootstrap else "no intervals"
    return f"""## Fair lending
- Protected attributes ({protected}) are not inputs of the model: they are read with the data only to
  evaluate it. No request may send them and no reason code can cite them (ECOA / Regulation B 1002.6(b)).
{age_policy_text(cfg)}
- Approval = a decision outside the adverse decisions ({", ".join(cfg.scoring.adverse_decisions)}). AIR = a group's
  approval rate / the most favoured group's (groups under {report.min_group_rows} test rows are shown but not
  counted); ⚠ = below the four-fifths threshold {report.air_threshold:g}. {summary} {gate_text}
- Held-out test split, {interval}:

| attribute | group | rows | approval rate | AIR | mean score | mean PD | AUC | Brier | ECE |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
{rows}

Proxy screening (training split): how well each input alone predicts a protected attribute
(cross-validated AUC of a one-feature model; ⚠ = AUC >= {cfg.fairness.proxy_auc_flag:g}) and mutual information
(nats); the {PROXY_ROWS} strongest per attribute, all in `fairness/proxies.csv`:

| attribute | input | AUC | mutual information |
| --- | --- | --- | --- |
{proxies}
"""


def model_card(spec: ArtifactSpec, cfg: TrainConfig, data: dict[str, str], fit: dict[str, str],
               fairness: FairnessReport | None = None) -> str:
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

{fairness_section(fairness, cfg)}
## Intended use and limitations
- Intended: ranking and pricing support for credit decisions with a human in the loop for
  referred cases; reason codes support adverse-action notices.
- Not validated for populations, products or periods other than the training data's. Monitor the
  score distribution (PSI) and recalibrate when the default rate shifts.
- Check the inputs against local law before use: the model learns whatever the data encodes.
  Declare protected attributes in `data.protected` (kept out of the model, evaluated per group)
  and read the proxy screening above: an input that predicts a protected attribute well can
  stand in for it.
- Small data sets (e.g. German credit, 1,000 rows) give test metrics with wide confidence
  intervals; judge with repeated cross-validation (`python -m benchmarks.quality`).
"""
