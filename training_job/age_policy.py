"""Age as an input under Regulation B 1002.6(b)(2): applicants aged 62 or older are never
assigned a negative value for age.

Once the network is fitted and each feature's most favourable value is known (the minimum of its
partial-dependence curve, training_job.reason_baseline), the age transform is rewritten so that
every age >= `elderly_from` encodes exactly as that favourable age. Younger ages encode as before.
So for an elderly applicant the age input is the best the model knows: changing their age to any
other value can only keep or raise the estimated risk on the partial-dependence curve, and the
occlusion reason codes (credit_model.engine) give age an impact of exactly zero, never a reason.

The rewrite is a change of knots of the piecewise-linear transform in the artifact: serving needs
no code for it and cannot forget it.
"""

from __future__ import annotations

import numpy as np

from credit_model.artifact import FeatureSpec, NumericTransform
from training_job.config import AgePolicy

EDGE = 1e-6
"""Width of the step at `elderly_from`: ages below it keep their own encoding."""


def elderly_floor(transform: NumericTransform, favourable: float, elderly_from: float) -> NumericTransform:
    """The transform with every value >= elderly_from mapped to the encoding of `favourable`."""
    q = np.asarray(transform.quantiles, dtype=np.float64)
    s = np.asarray(transform.normal_scores, dtype=np.float64)
    target = float(np.interp(favourable, q, s))
    below = q < elderly_from - EDGE
    knots, scores = q[below].tolist(), s[below].tolist()
    if knots:  # hold the original encoding right up to the step
        knots.append(elderly_from - EDGE)
        scores.append(float(np.interp(elderly_from - EDGE, q, s)))
    knots.append(float(elderly_from))
    scores.append(target)
    return transform.model_copy(update={"quantiles": knots, "normal_scores": scores})


def apply_age_policy(features: list[FeatureSpec], policy: AgePolicy | None) -> list[FeatureSpec]:
    """Features with the age transform floored for the elderly (features unchanged without a policy).

    Needs the fitted baselines: call after training_job.reason_baseline.favourable_baselines."""
    if policy is None:
        return features
    out = []
    for f in features:
        if f.name == policy.feature:
            if f.kind != "numeric" or f.transform is None or not isinstance(f.baseline, (int, float)):
                raise ValueError(f"data.age.feature {f.name!r} must be a numeric feature with a fitted baseline")
            f = f.model_copy(update={"transform": elderly_floor(f.transform, float(f.baseline), policy.elderly_from)})
        out.append(f)
    return out
