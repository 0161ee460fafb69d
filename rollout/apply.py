"""A decision as the next Helm values step, and the `helm upgrade` that applies it.

The chart's values (charts/credit-score/values.yaml) stay the source of truth; every
transition is a `helm upgrade <release> <chart> --reuse-values --set ...` of these keys:

    serving.stable.registeredModel / .version / .alias   the stable model reference
    rollout.canary.enabled / .registeredModel / .version / .alias / .trafficPercent
    rollout.shadow                                       gateway mode: mirror to the canary
    rollout.mode                                         read only (knative | standard | gateway)

Transitions:
    step_up  -> rollout.canary.enabled=true, rollout.canary.trafficPercent=<next step>, rollout.shadow=false
    promote  -> serving.stable := the canary reference (version, or alias with version=null),
                rollout.canary.enabled=false, rollout.canary.trafficPercent=0, rollout.shadow=false
    rollback -> rollout.canary.enabled=false (or kept at 0 % with keep_canary), trafficPercent=0,
                rollout.shadow=false
    hold     -> nothing to do

`helm rollback <release>` restores the previous split at any time.
"""

from __future__ import annotations

import copy
import shlex
import subprocess
from dataclasses import dataclass, field

import yaml

from rollout.decide import Action, Decision


class ApplyError(ValueError):
    pass


@dataclass
class Plan:
    action: Action
    sets: list[tuple[str, str]] = field(default_factory=list)
    """(key, value as --set takes it), in order."""
    values: dict = field(default_factory=dict)
    """The values after the step (the given values with the sets applied)."""
    summary: str = ""

    def command(self, release: str, chart: str, namespace: str | None = None, helm: str = "helm",
                extra: list[str] | None = None) -> list[str]:
        cmd = [helm, "upgrade", release, chart, "--reuse-values"]
        if namespace:
            cmd += ["--namespace", namespace]
        for key, value in self.sets:
            cmd += ["--set", f"{key}={value}"]
        return cmd + list(extra or [])


def _get(values: dict, dotted: str, default=None):  # noqa: ANN001
    node = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _put(values: dict, dotted: str, value) -> None:  # noqa: ANN001
    parts = dotted.split(".")
    node = values
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _set_value(value) -> str:  # noqa: ANN001
    """A value as `helm --set` reads it back with the same type (null, true/false, ints)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if any(c in text for c in ",={}[]\\"):
        raise ApplyError(f"value {text!r} cannot be passed with --set")
    return text


def _ref(values: dict, prefix: str) -> dict:
    ref = _get(values, prefix, {}) or {}
    version, alias = ref.get("version"), ref.get("alias") or ""
    if version in (None, "") and not alias:
        raise ApplyError(f"{prefix} names neither a version nor an alias")
    return {"registeredModel": ref.get("registeredModel"), "version": None if version in (None, "") else int(version),
            "alias": "" if version not in (None, "") else alias}


def describe_ref(ref: dict) -> str:
    return f"models:/{ref['registeredModel']}/{ref['version']}" if ref.get("version") is not None \
        else f"models:/{ref['registeredModel']}@{ref['alias']}"


def plan(decision: Decision, values: dict, keep_canary: bool = False) -> Plan:
    """The values step for a decision, from the release's current values (`helm get values --all`)."""
    canary_enabled = bool(_get(values, "rollout.canary.enabled", False))
    sets: list[tuple[str, object]] = []
    if decision.action == Action.HOLD:
        return Plan(Action.HOLD, [], copy.deepcopy(values), f"hold: {decision.reason}")
    if not canary_enabled:
        raise ApplyError(f"{decision.action.value}: the release has no canary (rollout.canary.enabled is false)")
    canary = _ref(values, "rollout.canary")
    if decision.action == Action.STEP_UP:
        to = decision.next_percent
        if to is None or not 0 < int(to) <= 100:
            raise ApplyError(f"step_up needs a next traffic percent in 1..100, got {to!r}")
        sets = [("rollout.canary.enabled", True), ("rollout.canary.trafficPercent", int(to)), ("rollout.shadow", False)]
        summary = f"step up: canary {describe_ref(canary)} to {int(to)} % of the traffic"
    elif decision.action == Action.PROMOTE:
        sets = [("serving.stable.registeredModel", canary["registeredModel"])]
        if canary["version"] is not None:
            sets += [("serving.stable.version", canary["version"]), ("serving.stable.alias", "")]
        else:
            sets += [("serving.stable.version", None), ("serving.stable.alias", canary["alias"])]
        sets += [("rollout.canary.enabled", False), ("rollout.canary.trafficPercent", 0), ("rollout.shadow", False)]
        summary = f"promote: {describe_ref(canary)} becomes stable at 100 %, canary removed"
    elif decision.action == Action.ROLLBACK:
        sets = [("rollout.canary.enabled", keep_canary), ("rollout.canary.trafficPercent", 0), ("rollout.shadow", False)]
        summary = (f"roll back: canary {describe_ref(canary)} " + ("kept at 0 %" if keep_canary else "removed")
                   + f", stable {describe_ref(_ref(values, 'serving.stable'))} answers 100 %")
    else:  # pragma: no cover - Action is closed
        raise ApplyError(f"unknown action {decision.action}")
    after = copy.deepcopy(values)
    for key, value in sets:
        _put(after, key, value)
    return Plan(decision.action, [(k, _set_value(v)) for k, v in sets], after, summary)


def helm_values(release: str, namespace: str | None, helm: str = "helm") -> dict:
    """The release's current values, all of them (`helm get values --all -o yaml`)."""
    cmd = [helm, "get", "values", release, "--all", "-o", "yaml"] + (["--namespace", namespace] if namespace else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ApplyError(f"{shlex.join(cmd)} failed: {done.stderr.strip()}")
    return yaml.safe_load(done.stdout) or {}


def to_yaml(values: dict) -> str:
    return yaml.safe_dump(values, sort_keys=False, default_flow_style=False)
