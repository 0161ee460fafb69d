"""The chart's rollout CronJob and its RBAC (templates/rollout/cronjob.yaml, rollout/rbac.yaml),
rendered with the real helm binary: off by default, a read-only Role unless it applies, and a
script whose every `python -m rollout` line parses with the CLI's own parser."""

from __future__ import annotations

import shlex
import subprocess

import pytest
import yaml

from rollout.__main__ import parse_settings

from .support import CHART, HELM

pytestmark = [pytest.mark.chart, pytest.mark.usefixtures("tools")]
CRON = {
    "enabled": True, "apply": False, "chart": "", "chartVersion": "", "schedule": "*/10 * * * *",
    "prometheusUrl": "http://prometheus.monitoring:9090", "selector": 'namespace="ml"', "window": "10m",
    "image": {"repository": "", "tag": ""}, "startingDeadlineSeconds": 300, "successfulJobsHistoryLimit": 3,
    "failedJobsHistoryLimit": 3, "backoffLimit": 0, "activeDeadlineSeconds": 600,
    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
}
NAME = "credit-credit-score-rollout-analysis"


def render(tmp_path, mode: str = "gateway", check: bool = True, **cron) -> list[dict] | str:
    values = tmp_path / "values.yaml"
    rollout = {"mode": mode, "canary": {"enabled": True, "version": 2, "trafficPercent": 10},
               "analysis": {"enabled": True, "cronJob": {**CRON, **cron}}}
    if mode == "standard":  # a standard-mode canary with traffic needs the acknowledgement (_validate.tpl)
        rollout["standard"] = {"kserveSplitsCanaryTraffic": True}
    values.write_text(yaml.safe_dump({"rollout": rollout}))
    done = subprocess.run([str(HELM), "template", "credit", str(CHART), "-n", "ml", "-f", str(values)],
                          capture_output=True, text=True, timeout=60)
    if not check:
        return done.stderr
    assert done.returncode == 0, done.stderr
    return [o for o in yaml.safe_load_all(done.stdout) if o and o["metadata"]["name"] == NAME]


def kinds(objects: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in objects}


def test_nothing_is_rendered_by_default() -> None:
    if not HELM.is_file():
        pytest.skip(f"needs the helm binary ({HELM})")
    done = subprocess.run([str(HELM), "template", "credit", str(CHART), "-n", "ml"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and NAME not in done.stdout


def test_analysis_only_gets_a_read_only_namespaced_role(tmp_path) -> None:
    objs = kinds(render(tmp_path))
    assert set(objs) == {"ServiceAccount", "Role", "RoleBinding", "CronJob", "NetworkPolicy"}
    verbs = {v for rule in objs["Role"]["rules"] for v in rule["verbs"]}
    assert verbs <= {"get", "list", "watch"}
    assert not any("secrets" in rule["resources"] for rule in objs["Role"]["rules"])
    assert objs["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "ml"}]
    job = objs["CronJob"]["spec"]
    assert job["concurrencyPolicy"] == "Forbid" and job["schedule"] == "*/10 * * * *"
    pod = job["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == NAME and pod["automountServiceAccountToken"] is True
    script = pod["containers"][0]["command"][2]
    assert "python -m rollout apply" not in script and "--prometheus" in script


def test_apply_adds_helm_upgrade_and_write_access(tmp_path) -> None:
    objs = kinds(render(tmp_path, apply=True, chart="oci://registry.example.com/charts/credit-score", chartVersion="0.1.0"))
    rules = objs["Role"]["rules"]
    assert any("secrets" in r["resources"] and "create" in r["verbs"] for r in rules)
    assert next(r for r in rules if "roles" in r["resources"])["resourceNames"] == [NAME]
    container = objs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["ROLLOUT_CHART"] == "oci://registry.example.com/charts/credit-score" and env["HOME"] == "/tmp"
    assert "python -m rollout apply" in container["command"][2]


@pytest.mark.parametrize("cron", [{}, {"apply": True, "chart": "charts/credit-score", "chartVersion": "0.1.0"},
                                  {"prometheusUrl": "", "selector": ""}])
def test_every_rollout_line_of_the_script_parses(tmp_path, cron: dict) -> None:
    objs = kinds(render(tmp_path, **cron))
    container = objs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    script = container["command"][2].replace("\\\n", " ")
    lines = [line for line in script.splitlines() if line.strip()]
    assert lines and all(line.startswith("python -m rollout ") for line in lines)
    for line in lines:
        for key, value in env.items():
            line = line.replace(f'"${key}"', shlex.quote(value))
        command, args = parse_settings(shlex.split(line)[3:])
        if command == "analyze":
            assert args.release == "credit" and args.namespace == "ml" and args.window == "10m"
            assert args.prometheus == (cron.get("prometheusUrl", CRON["prometheusUrl"]) or None)
        if command == "decide":
            assert (args.min_requests, args.max_p99_ratio, args.steps) == (500, 1.25, "10,25,50,100")
            assert args.max_input_psi == 0.25


def test_misconfigurations_fail_with_a_message(tmp_path) -> None:
    assert "set rollout.analysis.cronJob.chart" in render(tmp_path, check=False, apply=True)
    assert "set rollout.analysis.cronJob.prometheusUrl" in render(tmp_path, "standard", check=False, prometheusUrl="")
