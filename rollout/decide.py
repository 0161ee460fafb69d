"""Thresholds and the decision: promote, step up, hold or roll back.

The rules, in order:

1. The canary has fewer than `minRequests` requests in the window: HOLD (too little evidence
   either way). Likewise the stable baseline, unless the canary already takes 100 % of the
   traffic (then the relative checks that need a baseline are skipped and said so).
2. Any threshold breached: ROLLBACK, the reason naming every breached threshold, first:
   - `maxErrorRateDelta`: canary error rate (HTTP 500 share) minus stable's, and the same for
     the invalid-request (HTTP 400) share: a canary that rejects requests stable accepts is
     as broken as one that fails them;
   - `maxP99Ratio`: canary p99 latency / stable p99, breached only when the canary is also
     more than `p99SlackSeconds` slower (histogram buckets make tiny latencies coarse: 2 ms
     against 3 ms is a ratio of 1.5 and means nothing);
   - `maxScorePsi`: PSI of the canary's score distribution against stable's;
   - `maxDecisionFlipShare` (shadow analyses only): share of paired rows whose decision flips.
3. Otherwise: in shadow mode STEP_UP to the first step (live traffic); below the last step
   STEP_UP to the next; at the last step (100 %) PROMOTE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

import yaml

DEFAULT_STEPS = (10, 25, 50, 100)


class Action(str, Enum):
    PROMOTE = "promote"
    STEP_UP = "step_up"
    HOLD = "hold"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class Thresholds:
    min_requests: int = 200
    max_error_rate_delta: float = 0.01
    max_p99_ratio: float = 1.5
    p99_slack_seconds: float = 0.005
    max_score_psi: float = 0.1
    max_decision_flip_share: float = 0.05
    max_input_psi: float | None = None
    """Largest PSI of any input against the canary's training reference before a step is held
    (the population moved away from what the canary learnt: not the canary's fault, so a hold,
    not a rollback); None: no drift gate."""
    steps: tuple[int, ...] = DEFAULT_STEPS

    def __post_init__(self) -> None:
        steps = tuple(int(s) for s in self.steps)
        if not steps or any(b <= a for a, b in zip(steps, steps[1:])) or steps[0] < 1 or steps[-1] != 100:
            raise ValueError(f"steps must be strictly increasing percentages ending at 100, got {list(steps)}")
        object.__setattr__(self, "steps", steps)
        if self.min_requests < 1 or self.max_error_rate_delta < 0 or self.max_p99_ratio < 1 or self.max_score_psi < 0 \
                or not 0 <= self.max_decision_flip_share <= 1 or self.p99_slack_seconds < 0 \
                or (self.max_input_psi is not None and self.max_input_psi < 0):
            raise ValueError(f"thresholds out of range: {self}")


# values.yaml `rollout.analysis` keys -> Thresholds fields
VALUES_KEYS = {
    "minRequests": "min_requests",
    "maxErrorRateDelta": "max_error_rate_delta",
    "maxP99Ratio": "max_p99_ratio",
    "p99SlackSeconds": "p99_slack_seconds",
    "maxScorePsi": "max_score_psi",
    "maxDecisionFlipShare": "max_decision_flip_share",
    "maxInputPsi": "max_input_psi",
    "steps": "steps",
}


def thresholds_from_values(path: str | Path | None, overrides: dict | None = None) -> Thresholds:
    """Thresholds from a values file's `rollout.analysis` section, then flag overrides (not None)."""
    fields: dict = {}
    if path:
        values = yaml.safe_load(Path(path).read_text()) or {}
        analysis = ((values.get("rollout") or {}).get("analysis") or {})
        fields.update({VALUES_KEYS[k]: v for k, v in analysis.items() if k in VALUES_KEYS})
    fields.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Thresholds(**fields)


@dataclass
class Decision:
    action: Action
    reason: str
    breached: list[str] = field(default_factory=list)
    """Names of breached thresholds (values keys), first the one that decided."""
    current_percent: int = 0
    next_percent: int | None = None
    """Canary traffic share after this decision (None: unchanged)."""
    shadow: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["action"] = self.action.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Decision:
        return cls(Action(d["action"]), d["reason"], list(d.get("breached", [])), int(d.get("current_percent", 0)),
                   d.get("next_percent"), bool(d.get("shadow", False)))


def next_step(current: int, steps: tuple[int, ...]) -> int:
    """The first step above `current` (100 when none is)."""
    return next((s for s in steps if s > current), 100)


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "n/a" if x is None else format(x, spec)


def decide(analysis: dict, t: Thresholds, current_percent: int, shadow: bool = False) -> Decision:
    """Decide from an analysis (rollout.analysis.Analysis.to_dict()) at the current canary share;
    `shadow`: the canary runs in shadow mode (gets a mirror of every request, answers nobody)."""
    stable, canary = analysis["stable"], analysis["canary"]

    def held(reason: str, name: str = "minRequests") -> Decision:
        return Decision(Action.HOLD, reason, [name], current_percent, None, shadow)

    if canary["requests"] < t.min_requests:
        return held(f"minRequests: canary has {canary['requests']} requests in the window, needs {t.min_requests}")
    baseline = stable["requests"] >= t.min_requests
    if not baseline and current_percent < 100:
        return held(f"minRequests: stable has {stable['requests']} requests in the window, needs {t.min_requests} as the baseline")

    breaches: list[tuple[str, str]] = []
    for rate, what in (("error_rate", "error rate"), ("invalid_rate", "invalid-request rate")):
        c, s = canary.get(rate) or 0.0, (stable.get(rate) or 0.0) if baseline else 0.0
        if c - s > t.max_error_rate_delta:
            breaches.append(("maxErrorRateDelta", f"maxErrorRateDelta: canary {what} {c:.4f} - stable {s:.4f} = "
                                                  f"{c - s:.4f} > {t.max_error_rate_delta:g}"))
    notes = []
    if baseline:
        cp, sp = canary.get("p99_seconds"), stable.get("p99_seconds")
        if cp is not None and sp:
            ratio = cp / sp
            if ratio > t.max_p99_ratio and cp - sp > t.p99_slack_seconds:
                breaches.append(("maxP99Ratio", f"maxP99Ratio: canary p99 {cp * 1000:.1f} ms / stable p99 {sp * 1000:.1f} ms "
                                                f"= {ratio:.2f} > {t.max_p99_ratio:g}"))
        value = analysis.get("psi")
        if value is not None and value > t.max_score_psi:
            breaches.append(("maxScorePsi", f"maxScorePsi: score PSI {value:.4f} > {t.max_score_psi:g}"))
    else:
        notes.append("stable has no baseline traffic at 100 %: latency and PSI checks skipped")
    flips = analysis.get("decision_flips")
    if flips and flips.get("share") is not None and flips["share"] > t.max_decision_flip_share:
        breaches.append(("maxDecisionFlipShare", f"maxDecisionFlipShare: {flips['flipped_rows']} of {flips['paired_rows']} "
                                                 f"paired rows flip ({flips['share']:.4f} > {t.max_decision_flip_share:g})"))
    if breaches:
        names = list(dict.fromkeys(name for name, _ in breaches))
        return Decision(Action.ROLLBACK, "; ".join(text for _, text in breaches), names, current_percent, 0, shadow)
    drift = canary.get("max_input_psi")
    if t.max_input_psi is not None and drift is not None and drift > t.max_input_psi:
        return held(f"maxInputPsi: input {canary.get('max_input_psi_feature')!r} has PSI {drift:.4f} > "
                    f"{t.max_input_psi:g} against the canary's training data: the population moved", "maxInputPsi")

    ok = (f"within thresholds (error-rate delta <= {t.max_error_rate_delta:g}, p99 ratio <= {t.max_p99_ratio:g}, "
          f"PSI {_fmt(analysis.get('psi'))} <= {t.max_score_psi:g}"
          + (f", flip share {_fmt(flips.get('share'))} <= {t.max_decision_flip_share:g}" if flips else "") + ")")
    if notes:
        ok += "; " + "; ".join(notes)
    if shadow:
        return Decision(Action.STEP_UP, f"shadow {ok}: live traffic at {t.steps[0]} %", [], 0, t.steps[0], True)
    if current_percent >= t.steps[-1]:
        return Decision(Action.PROMOTE, f"canary at {current_percent} % {ok}: promote to stable", [], current_percent, 100)
    nxt = next_step(current_percent, t.steps)
    return Decision(Action.STEP_UP, f"canary at {current_percent} % {ok}: step up to {nxt} %", [], current_percent, nxt)
