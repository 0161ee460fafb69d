"""Settings of `python -m rollout`: every flag of a subcommand also reads the environment
variable ROLLOUT_<FLAG> (`--stable-url` ↔ ROLLOUT_STABLE_URL), and a flag wins; read by
pydantic-settings as the predictor's and the training job's are. A few keep the names the
chart and Kubernetes already use: MODEL_NAME, POD_NAMESPACE (fallback of the namespace), HELM."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["knative", "standard", "gateway"]


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROLLOUT_", extra="forbid", cli_kebab_case=True,
                                      cli_implicit_flags=True, populate_by_name=True,
                                      cli_shortcuts={"namespace": "n"})


def _pod_namespace() -> str:
    return os.environ.get("POD_NAMESPACE") or "default"


class _Cluster(_Settings):
    release: str | None = Field(default=None, description="Helm release (env ROLLOUT_RELEASE)")
    namespace: str = Field(default_factory=_pod_namespace,
                           description="namespace of the release (env ROLLOUT_NAMESPACE, else POD_NAMESPACE)")
    kube_context: str | None = Field(default=None, description="kubeconfig context (outside a cluster)")
    recorded: list[Path] = Field(default_factory=list, description="read recorded API objects (YAML/JSON) instead of "
                                                                   "the live API (tests, offline diagnosis); repeatable")
    mode: Mode | None = Field(default=None, description="rollout mode (default: detected)")


class StatusSettings(_Cluster):
    model_config = SettingsConfigDict(cli_shortcuts={"namespace": "n", "json_output": "json"})

    release: str = Field(min_length=1, description="Helm release (env ROLLOUT_RELEASE)")
    json_output: bool = Field(default=False, description="one JSON object instead of the table")


class AnalyzeSettings(_Cluster):
    stable_url: list[str] = Field(default_factory=list, description="stable predictor base URL (its /metrics is "
                                                                    "scraped); repeat for several pods")
    canary_url: list[str] = Field(default_factory=list, description="canary predictor base URL; repeatable")
    prometheus: str | None = Field(default=None, description="Prometheus server: query /api/v1/query instead of scraping")
    selector: str | None = Field(default=None, description='extra PromQL label matchers for both sides, e.g. namespace="ml"')
    stable_matchers: str | None = Field(default=None, description="PromQL matchers of the stable series "
                                                                  "(default model_name + model_version)")
    canary_matchers: str | None = Field(default=None, description="PromQL matchers of the canary series")
    stable_version: str | None = Field(default=None, description="model_version label of stable (scrape: filter; "
                                                                 "Prometheus: required unless --release or --stable-matchers)")
    canary_version: str | None = Field(default=None, description="model_version label of the canary")
    model_name: str = Field(default="credit-score", validation_alias="model_name",
                            description="name the predictors serve under (model_name label, /v2/models/<name>; env MODEL_NAME)")
    window: str = Field(default="0", description="seconds (or 30s, 5m, 1h) to measure over: scrape twice that far apart, "
                                                 "or Prometheus increase(...[window]); 0: totals since start")
    shadow: bool = Field(default=False, description="also pair stable's and the canary's decisions per request id")
    timeout: float = Field(default=10.0, gt=0, description="HTTP timeout in seconds")
    output: Path | None = Field(default=None, description="also write the JSON to this file")


class DecideSettings(_Settings):
    analysis: str = Field(default="-", description="analysis JSON file (the last JSON line counts); - for stdin")
    values: Path | None = Field(default=None, description="values file: thresholds from rollout.analysis, "
                                                          "the current step from rollout.canary")
    min_requests: int | None = Field(default=None, ge=0)
    max_error_rate_delta: float | None = None
    max_p99_ratio: float | None = None
    p99_slack_seconds: float | None = None
    max_score_psi: float | None = None
    max_decision_flip_share: float | None = None
    max_input_psi: float | None = Field(default=None, ge=0, description="hold when an input's PSI against the "
                                        "canary's training reference exceeds this")
    steps: str | None = Field(default=None, description="comma-separated traffic steps, e.g. 10,25,50,100")
    current_percent: int | None = Field(default=None, ge=0, le=100,
                                        description="current canary share (default: the live status in the analysis, "
                                                    "else rollout.canary.trafficPercent of --values)")
    shadow: bool = Field(default=False, description="the canary runs in shadow (mirror) mode (default: as the live "
                                                    "status in the analysis, else rollout.shadow of --values, says)")
    output: Path | None = Field(default=None, description="also write the decision JSON to this file")


class ApplySettings(_Settings):
    decision: str = Field(default="-", description="decision JSON file (the last JSON line counts); - for stdin")
    action: Literal["promote", "step_up", "hold", "rollback"] | None = Field(default=None, description="instead of --decision")
    to: int | None = Field(default=None, ge=0, le=100, description="with --action step_up: the canary share to set")
    release: str = Field(min_length=1, description="Helm release (env ROLLOUT_RELEASE)")
    namespace: str | None = Field(default=None, description="namespace of the release (env ROLLOUT_NAMESPACE)")
    chart: str = Field(default="charts/credit-score", description="chart to upgrade with (path, repo/name or oci:// "
                                                                  "reference; env ROLLOUT_CHART)")
    values: Path | None = Field(default=None, description="the release's current values (default: helm get values --all)")
    keep_canary: bool = Field(default=False, description="rollback keeps the canary deployed at 0 %% (for debugging)")
    helm: str = Field(default="helm", validation_alias="helm", description="helm binary (env HELM)")
    helm_arg: list[str] = Field(default_factory=list, description="extra helm upgrade argument, e.g. --helm-arg=--wait; repeatable")
    dry_run: bool = Field(default=False, description="print the command and the resulting values; change nothing")


COMMANDS: dict[str, tuple[type[_Settings], str]] = {
    "status": (StatusSettings, "which model versions get which share, and whether each is Ready"),
    "analyze": (AnalyzeSettings, "compare stable and canary from their Prometheus metrics"),
    "decide": (DecideSettings, "promote, step up, hold or roll back"),
    "apply": (ApplySettings, "the decision as the next values step (helm upgrade --reuse-values)"),
}
