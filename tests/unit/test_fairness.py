"""The fairness plumbing on groups small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from training_job.config import FairnessConfig
from training_job.fairness import adverse_impact, evaluate_fairness, proxy_strength

# group a: 4 rows, 3 approved; group b: 4 rows, 1 approved; group c: 2 rows (small), 0 approved
GROUPS = pd.DataFrame({"sex": ["a"] * 4 + ["b"] * 4 + ["c"] * 2})
Y = np.array([0, 0, 1, 0, 1, 1, 0, 0, 0, 1])
PD = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.7, 0.2, 0.6, 0.7])
POINTS = np.array([560, 550, 540, 530, 480, 490, 500, 550, 510, 500])
APPROVED = np.array([1, 1, 0, 1, 0, 0, 0, 1, 0, 0])
TRAIN = pd.DataFrame({"x": np.arange(40.0), "colour": ["red", "blue"] * 20})
TRAIN_GROUPS = pd.DataFrame({"sex": ["a"] * 20 + ["b"] * 20})
CFG = FairnessConfig(min_group_rows=3, bootstrap=0)


def report(cfg: FairnessConfig = CFG):
    return evaluate_fairness(GROUPS, Y, PD, POINTS, APPROVED, TRAIN, TRAIN_GROUPS, {"colour"}, cfg)


def test_per_group_metrics_match_the_hand_computed_values() -> None:
    rows = {g["group"]: g for g in report().groups}
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["rows"], b["rows"], c["rows"]) == (4, 4, 2)
    assert (a["approval_rate"], b["approval_rate"], c["approval_rate"]) == (0.75, 0.25, 0.0)
    assert a["air"] == 1.0 and b["air"] == pytest.approx(1 / 3) and c["air"] == 0.0
    assert b["below_threshold"] and not a["below_threshold"]
    assert c["small"] and not c["below_threshold"]  # reported, but too small to count
    assert a["mean_score"] == pytest.approx(545.0) and b["mean_score"] == pytest.approx(505.0)
    assert a["mean_pd"] == pytest.approx(0.25) and b["mean_pd"] == pytest.approx(0.65)
    assert a["default_rate"] == 0.25 and b["default_rate"] == 0.5
    # a: the one default (0.3) outranks 2 of the 3 goods (0.1, 0.2; not 0.4) -> 2/3
    assert a["auc"] == pytest.approx(2 / 3)
    # b: defaults 0.9, 0.8 outrank both goods 0.7, 0.2 -> 1.0
    assert b["auc"] == 1.0
    assert c["auc"] == 1.0  # c holds one default (0.7) above one good (0.6)
    assert a["brier"] == pytest.approx((0.01 + 0.04 + 0.49 + 0.16) / 4)
    # ECE of a: bins 1, 2, 3, 4 hold one row each: |0-.1| + |0-.2| + |1-.3| + |0-.4| over 4 rows
    assert a["ece"] == pytest.approx((0.1 + 0.2 + 0.7 + 0.4) / 4)


def test_min_air_leaves_small_groups_out_and_names_the_worst_group() -> None:
    r = report()
    assert r.attributes["sex"] == {"reference_group": "a", "min_air": pytest.approx(1 / 3), "min_air_group": "b"}
    assert r.min_air == pytest.approx(1 / 3) and r.worst() == ("sex", "b")
    m = r.metrics()
    assert m["fairness/sex/min_air"] == pytest.approx(1 / 3) and m["fairness/min_air"] == pytest.approx(1 / 3)
    assert m["fairness/sex/approval_rate_gap"] == pytest.approx(0.5)
    # a stricter size rule leaves only group a and b... and with 5 rows none: no AIR at all
    none = report(FairnessConfig(min_group_rows=5, bootstrap=0))
    assert none.min_air is None and "fairness/min_air" not in none.metrics()


def test_reference_is_the_most_favoured_eligible_group() -> None:
    by_group = pd.DataFrame({"rows": [2, 10, 10], "approval_rate": [1.0, 0.8, 0.4]}, index=["tiny", "x", "y"])
    air, ref = adverse_impact(by_group, min_rows=5)
    assert ref == "x" and air.to_dict() == pytest.approx({"tiny": 1.25, "x": 1.0, "y": 0.5})


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate() -> None:
    cfg = FairnessConfig(min_group_rows=3, bootstrap=10, seed=7)
    first, second = report(cfg), report(cfg)
    assert first.groups == second.groups
    assert first.attributes == second.attributes
    sex = first.attributes["sex"]
    assert 0 <= sex["min_air_low"] <= sex["min_air_high"] <= 1  # groups a and b counted, c too small
    for g in first.groups:
        assert g["mean_pd_low"] <= g["mean_pd"] <= g["mean_pd_high"]
        assert 0 <= g["approval_rate_low"] <= g["approval_rate_high"] <= 1


def test_proxy_screening_finds_a_perfect_proxy_and_ignores_noise() -> None:
    r = report()
    by_feature = {p["feature"]: p for p in r.proxies}
    assert by_feature["x"]["auc"] == pytest.approx(1.0) and by_feature["x"]["flagged"]
    assert by_feature["colour"]["auc"] < 0.7 and not by_feature["colour"]["flagged"]
    assert by_feature["colour"]["mutual_information"] == pytest.approx(0.0, abs=1e-12)
    assert by_feature["x"]["mutual_information"] == pytest.approx(math.log(2))
    assert [p["feature"] for p in r.proxies] == ["x", "colour"]  # strongest first


def test_no_protected_attribute_means_no_report() -> None:
    empty = pd.DataFrame(index=range(len(Y)))
    assert evaluate_fairness(empty, Y, PD, POINTS, APPROVED, TRAIN, empty, set(), CFG) is None


def test_a_single_row_minority_gives_no_proxy_auc() -> None:
    auc, mi = proxy_strength(pd.Series([1.0, 2.0, 3.0]), False, pd.Series(["a", "a", "b"]), 0)
    assert math.isnan(auc) and mi > 0


def test_plot_and_model_card_section(tmp_path) -> None:
    from tests.conftest import CONFIG_000
    from training_job.config import load_config
    from training_job.model_card import fairness_section
    from training_job.plots import fairness_plot

    r = report(FairnessConfig(min_group_rows=3, bootstrap=10))
    png = fairness_plot(r, tmp_path / "air.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cfg = load_config(CONFIG_000)
    text = fairness_section(r, cfg)
    assert "| `sex` | b | 4 | 0.250 [" in text and "| 0.333 ⚠ |" in text  # AIR below the four-fifths line
    assert "| `sex` | c | 2 (small) |" in text
    assert "Lowest adverse impact ratio 0.333 (`sex` = 'b', 95% interval [" in text
    assert "Regulation B 1002.6(b)(2)" in text and "every age >= 62" in text
    gmsc = load_config(CONFIG_000, ["data.protected=[]"])
    assert "no fairness evaluation" in fairness_section(None, gmsc)


@pytest.mark.parametrize("protected", [True, False], ids=["german-protected", "no-group-columns"])
def test_job_without_a_tracking_server_reports_fairness_only_with_protected_columns(tmp_path, protected: bool) -> None:
    from tests.conftest import CONFIG_000, PROTECTED, QUICK
    from training_job.config import load_config
    from training_job.job import run_job

    overrides = [*QUICK, "optimisation.threads=1", "fairness.bootstrap=0"] + ([] if protected else ["data.protected=[]"])
    result = run_job(load_config(CONFIG_000, overrides), output_dir=tmp_path)
    spec = (tmp_path / "artifact.json").read_text()
    if protected:
        assert result.fairness is not None and set(result.fairness.attributes) == set(PROTECTED)
        assert result.metrics["fairness/min_air"] == result.fairness.min_air
        assert all(f'"name": "{name}"' not in spec for name in PROTECTED)
    else:  # the protected columns are then ordinary inputs, and there is no fairness section
        assert result.fairness is None and not any(k.startswith("fairness/") for k in result.metrics)
        assert '"name": "foreign_worker"' in spec


@pytest.mark.parametrize(("min_air", "floor", "held"), [
    (0.75, 0.8, "adverse impact ratio 0.7500 < registry.min_air 0.8"), (0.8, 0.8, None), (0.5, None, None),
    (None, 0.8, "no adverse impact ratio could be measured"), (None, None, None)])
def test_fairness_hold(min_air, floor, held) -> None:
    from training_job.registry import fairness_hold

    reason = fairness_hold(min_air, floor)
    assert (reason is None) if held is None else reason.startswith(held)
