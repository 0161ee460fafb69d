"""Threshold logic and step logic of `rollout decide`."""

from __future__ import annotations

import pytest

from rollout.decide import DEFAULT_STEPS, Action, Decision, Thresholds, decide, next_step, thresholds_from_values

T = Thresholds()


def side(requests: int = 1000, error_rate: float = 0.0, invalid_rate: float = 0.0, p99: float | None = 0.004) -> dict:
    return {"version": "1", "requests": requests, "error_rate": error_rate, "invalid_rate": invalid_rate, "p99_seconds": p99}


def analysis(stable: dict | None = None, canary: dict | None = None, psi: float | None = 0.01, flips: dict | None = None) -> dict:
    return {"stable": stable or side(), "canary": canary or side(), "psi": psi, "decision_flips": flips}


def test_defaults_are_the_documented_ones() -> None:
    assert (T.min_requests, T.max_error_rate_delta, T.max_p99_ratio, T.max_score_psi, T.max_decision_flip_share) == \
        (200, 0.01, 1.5, 0.1, 0.05)
    assert T.steps == DEFAULT_STEPS == (10, 25, 50, 100)


@pytest.mark.parametrize(("current", "expected"), [(0, 10), (10, 25), (25, 50), (30, 50), (50, 100)])
def test_next_step(current: int, expected: int) -> None:
    assert next_step(current, DEFAULT_STEPS) == expected


@pytest.mark.parametrize(("current", "action", "to"), [(10, Action.STEP_UP, 25), (25, Action.STEP_UP, 50),
                                                       (50, Action.STEP_UP, 100), (100, Action.PROMOTE, 100)])
def test_a_healthy_canary_walks_the_steps_then_is_promoted(current: int, action: Action, to: int) -> None:
    d = decide(analysis(), T, current)
    assert d.action == action and d.next_percent == to and d.breached == []
    assert "within thresholds" in d.reason


def test_shadow_goes_live_at_the_first_step() -> None:
    flips = {"paired_rows": 900, "flipped_rows": 9, "share": 0.01}
    d = decide(analysis(flips=flips), T, 0, shadow=True)
    assert (d.action, d.next_percent, d.shadow) == (Action.STEP_UP, 10, True)


def test_too_little_canary_traffic_holds() -> None:
    d = decide(analysis(canary=side(requests=199, error_rate=0.5)), T, 10)
    assert d.action == Action.HOLD and d.breached == ["minRequests"] and d.next_percent is None
    assert d.reason == "minRequests: canary has 199 requests in the window, needs 200"


def test_too_little_stable_baseline_holds_below_100_but_not_at_100() -> None:
    a = analysis(stable=side(requests=3), psi=None)
    held = decide(a, T, 50)
    assert held.action == Action.HOLD and "stable has 3 requests" in held.reason
    promoted = decide(a, T, 100)
    assert promoted.action == Action.PROMOTE and "checks skipped" in promoted.reason


@pytest.mark.parametrize(("changes", "name", "fragment"), [
    ({"canary": side(error_rate=0.03)}, "maxErrorRateDelta", "canary error rate 0.0300 - stable 0.0000 = 0.0300 > 0.01"),
    ({"canary": side(invalid_rate=0.2)}, "maxErrorRateDelta", "invalid-request rate"),
    ({"canary": side(p99=0.05)}, "maxP99Ratio", "canary p99 50.0 ms / stable p99 4.0 ms = 12.50 > 1.5"),
    ({"psi": 0.42}, "maxScorePsi", "score PSI 0.4200 > 0.1"),
    ({"flips": {"paired_rows": 1000, "flipped_rows": 300, "share": 0.3}}, "maxDecisionFlipShare", "300 of 1000 paired rows flip"),
])
def test_each_breached_threshold_rolls_back_and_is_named(changes: dict, name: str, fragment: str) -> None:
    d = decide(analysis(**changes), T, 25)
    assert d.action == Action.ROLLBACK and d.next_percent == 0
    assert d.breached == [name] and d.reason.startswith(name) and fragment in d.reason


def test_the_error_rate_threshold_is_a_delta_against_stable() -> None:
    assert decide(analysis(stable=side(error_rate=0.05), canary=side(error_rate=0.055)), T, 10).action == Action.STEP_UP
    assert decide(analysis(stable=side(error_rate=0.05), canary=side(error_rate=0.07)), T, 10).action == Action.ROLLBACK


def test_p99_ratio_needs_a_real_difference_not_just_a_coarse_bucket() -> None:
    # 2 ms against 3.5 ms is a ratio of 1.75 but 1.5 ms: within the slack
    assert decide(analysis(stable=side(p99=0.002), canary=side(p99=0.0035)), T, 10).action == Action.STEP_UP
    strict = Thresholds(p99_slack_seconds=0.0)
    assert decide(analysis(stable=side(p99=0.002), canary=side(p99=0.0035)), strict, 10).action == Action.ROLLBACK


def test_several_breaches_are_all_named_first_the_error_rate() -> None:
    d = decide(analysis(canary=side(error_rate=0.2, p99=0.5), psi=0.9), T, 10)
    assert d.breached == ["maxErrorRateDelta", "maxP99Ratio", "maxScorePsi"]
    assert d.reason.count(";") == 2


def test_decision_round_trips_through_json() -> None:
    d = decide(analysis(psi=0.5), T, 25)
    assert Decision.from_dict(d.to_dict()) == d
    assert d.to_dict()["action"] == "rollback"


def test_thresholds_come_from_the_values_file_then_flags(tmp_path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("rollout:\n  analysis:\n    enabled: true\n    minRequests: 500\n    maxP99Ratio: 1.25\n"
                      "    maxScorePsi: 0.2\n    steps: [5, 50, 100]\n")
    t = thresholds_from_values(values, {"max_score_psi": 0.05, "min_requests": None})
    assert (t.min_requests, t.max_p99_ratio, t.max_score_psi, t.steps) == (500, 1.25, 0.05, (5, 50, 100))
    assert t.max_error_rate_delta == 0.01  # default kept


@pytest.mark.parametrize("steps", [(), (10, 5, 100), (10, 50), (0, 100), (10, 10, 100)])
def test_bad_steps_are_refused(steps: tuple) -> None:
    with pytest.raises(ValueError, match="steps"):
        Thresholds(steps=steps)


def drifted(psi_value: float) -> dict:
    return {**side(), "max_input_psi": psi_value, "max_input_psi_feature": "credit_amount"}


def test_input_drift_holds_the_step_naming_the_input() -> None:
    t = Thresholds(max_input_psi=0.25)
    d = decide(analysis(canary=drifted(0.31)), t, 25)
    assert d.action == Action.HOLD and d.breached == ["maxInputPsi"] and d.next_percent is None
    assert "'credit_amount' has PSI 0.3100 > 0.25" in d.reason
    assert decide(analysis(canary=drifted(0.2)), t, 25).action == Action.STEP_UP
    assert decide(analysis(canary=drifted(0.9)), T, 25).action == Action.STEP_UP  # no gate by default


def test_a_canary_that_breaks_rolls_back_even_when_the_inputs_drifted() -> None:
    d = decide(analysis(canary={**drifted(0.9), "error_rate": 0.2}), Thresholds(max_input_psi=0.25), 25)
    assert d.action == Action.ROLLBACK and d.breached == ["maxErrorRateDelta"]
