"""Decisions as values steps and the exact `helm upgrade` command (`rollout apply --dry-run`)."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest
import yaml

from rollout.__main__ import main
from rollout.apply import ApplyError, plan
from rollout.decide import Action, Decision
from rollout.k8s import RecordedApi, rollout_status
from tests.conftest import REPO

VALUES = {
    "serving": {"modelName": "credit-score", "stable": {"registeredModel": "credit-score", "version": 1, "alias": ""}},
    "rollout": {"mode": "gateway", "shadow": False,
                "canary": {"enabled": True, "registeredModel": "credit-score", "version": 2, "alias": "", "trafficPercent": 10},
                "analysis": {"enabled": True, "steps": [10, 25, 50, 100]}},
}


def d(action: Action, to: int | None = None) -> Decision:
    return Decision(action, "test", next_percent=to)


def test_step_up_sets_the_next_share() -> None:
    p = plan(d(Action.STEP_UP, 25), VALUES)
    assert p.sets == [("rollout.canary.enabled", "true"), ("rollout.canary.trafficPercent", "25"), ("rollout.shadow", "false")]
    assert p.values["rollout"]["canary"]["trafficPercent"] == 25
    assert VALUES["rollout"]["canary"]["trafficPercent"] == 10  # the input is not modified
    assert p.command("credit", "charts/credit-score", "ml") == [
        "helm", "upgrade", "credit", "charts/credit-score", "--reuse-values", "--namespace", "ml",
        "--set", "rollout.canary.enabled=true", "--set", "rollout.canary.trafficPercent=25", "--set", "rollout.shadow=false"]


def test_promote_makes_the_canary_stable_and_removes_it() -> None:
    p = plan(d(Action.PROMOTE, 100), VALUES)
    assert p.sets == [("serving.stable.registeredModel", "credit-score"), ("serving.stable.version", "2"),
                      ("serving.stable.alias", ""), ("rollout.canary.enabled", "false"),
                      ("rollout.canary.trafficPercent", "0"), ("rollout.shadow", "false")]
    assert p.values["serving"]["stable"] == {"registeredModel": "credit-score", "version": 2, "alias": ""}
    assert p.summary == "promote: models:/credit-score/2 becomes stable at 100 %, canary removed"


def test_promote_an_alias_canary_sets_version_null() -> None:
    values = yaml.safe_load(yaml.safe_dump(VALUES))
    values["rollout"]["canary"].update(version=None, alias="challenger")
    p = plan(d(Action.PROMOTE, 100), values)
    assert ("serving.stable.version", "null") in p.sets and ("serving.stable.alias", "challenger") in p.sets
    assert p.values["serving"]["stable"] == {"registeredModel": "credit-score", "version": None, "alias": "challenger"}


def test_rollback_removes_the_canary_or_keeps_it_dark() -> None:
    p = plan(d(Action.ROLLBACK, 0), VALUES)
    assert p.sets == [("rollout.canary.enabled", "false"), ("rollout.canary.trafficPercent", "0"), ("rollout.shadow", "false")]
    assert "stable models:/credit-score/1 answers 100 %" in p.summary
    kept = plan(d(Action.ROLLBACK, 0), VALUES, keep_canary=True)
    assert kept.sets[0] == ("rollout.canary.enabled", "true") and "kept at 0 %" in kept.summary


def test_shadow_goes_live_at_the_first_step() -> None:
    values = yaml.safe_load(yaml.safe_dump(VALUES))
    values["rollout"].update(shadow=True)
    values["rollout"]["canary"]["trafficPercent"] = 0
    p = plan(Decision(Action.STEP_UP, "ok", current_percent=0, next_percent=10, shadow=True), values)
    assert p.values["rollout"]["shadow"] is False and p.values["rollout"]["canary"]["trafficPercent"] == 10


def test_hold_changes_nothing_and_no_canary_is_an_error() -> None:
    assert plan(d(Action.HOLD), VALUES).sets == []
    values = yaml.safe_load(yaml.safe_dump(VALUES))
    values["rollout"]["canary"]["enabled"] = False
    with pytest.raises(ApplyError, match="no canary"):
        plan(d(Action.PROMOTE, 100), values)
    with pytest.raises(ApplyError, match="next traffic percent"):
        plan(d(Action.STEP_UP, None), VALUES)


@pytest.mark.parametrize(("decision", "expected_sets"), [
    ({"action": "step_up", "reason": "r", "next_percent": 50},
     "--set rollout.canary.enabled=true --set rollout.canary.trafficPercent=50 --set rollout.shadow=false"),
    ({"action": "promote", "reason": "r", "next_percent": 100},
     "--set serving.stable.registeredModel=credit-score --set serving.stable.version=2 --set serving.stable.alias= "
     "--set rollout.canary.enabled=false --set rollout.canary.trafficPercent=0 --set rollout.shadow=false"),
    ({"action": "rollback", "reason": "r", "breached": ["maxScorePsi"], "next_percent": 0},
     "--set rollout.canary.enabled=false --set rollout.canary.trafficPercent=0 --set rollout.shadow=false"),
])
def test_apply_dry_run_prints_the_exact_command_and_values(tmp_path, monkeypatch, capsys, decision, expected_sets) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(VALUES))
    decision_file = tmp_path / "decision.json"
    decision_file.write_text("ROLLBACK: human line first\n" + json.dumps(decision) + "\n")
    rc = main(["apply", "--release", "credit", "-n", "ml", "--chart", "oci://registry.example.com/charts/credit-score",
               "--values", str(values), "--decision", str(decision_file), "--dry-run"])
    assert rc == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# ")
    assert out[1] == ("helm upgrade credit oci://registry.example.com/charts/credit-score --reuse-values --namespace ml "
                      + expected_sets)
    assert shlex.split(out[1])[:5] == ["helm", "upgrade", "credit", "oci://registry.example.com/charts/credit-score", "--reuse-values"]
    assert out[2] == "# resulting values:"
    after = yaml.safe_load("\n".join(out[3:]))
    assert after["rollout"]["canary"]["trafficPercent"] == {"step_up": 50, "promote": 0, "rollback": 0}[decision["action"]]


def test_apply_hold_prints_no_command(tmp_path, capsys) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(VALUES))
    assert main(["apply", "--release", "credit", "--values", str(values), "--action", "hold", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("# hold")


HELM = REPO / ".tools" / "bin" / "helm"
CHART = REPO / "charts" / "credit-score"


@pytest.mark.parametrize("mode", ["knative", "standard", "gateway"])
def test_each_transition_renders_and_gives_the_expected_split(mode: str, tmp_path) -> None:
    """The printed `helm upgrade --reuse-values --set ...`, run as `helm template` over the chart's
    ci values of a 10 % canary (standing in for the release's current values), renders; `status`
    on the rendered objects (no status yet: shares from the spec) shows the planned split."""
    if not HELM.is_file() or not CHART.is_dir():
        pytest.skip(f"needs the helm binary ({HELM}, scripts/fetch-tools.sh) and the chart ({CHART})")
    current = CHART / "ci" / f"{mode}-canary-10-values.yaml"
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    values = _merge(defaults, yaml.safe_load(current.read_text()))
    expected = {Action.STEP_UP: [("stable", "1", 75.0), ("canary", "2", 25.0)],
                Action.PROMOTE: [("stable", "2", 100.0)],
                Action.ROLLBACK: [("stable", "1", 100.0)]}
    for action, split in expected.items():
        step = plan(d(action, {Action.STEP_UP: 25, Action.PROMOTE: 100, Action.ROLLBACK: 0}[action]), values)
        cmd = step.command("credit", str(CHART), "ml", str(HELM))
        assert cmd[1:3] == ["upgrade", "credit"] and "--reuse-values" in cmd
        rest = cmd[cmd.index("--reuse-values") + 1:]  # --namespace ml --set ...
        render = [str(HELM), "template", "credit", str(CHART), "-f", str(current), *rest]
        done = subprocess.run(render, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{action}: {done.stderr}"
        objects = [o for o in yaml.safe_load_all(done.stdout) if o]
        st = rollout_status(RecordedApi(objects), "credit", "ml", mode)
        if mode == "knative" and action == Action.STEP_UP:  # the previous revision's model is in its Revision only
            split = [("stable", None, 75.0), ("canary", "2", 25.0)]
        assert [(b.role, b.version, b.percent) for b in st.backends] == split, (action, st.table())


def _merge(base, over):  # noqa: ANN001
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in over.items()}}
    return over
