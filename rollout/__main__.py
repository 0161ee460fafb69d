"""`python -m rollout {status,analyze,decide,apply}` (console script `credit-rollout`).

    status   the live split of a release (Kubernetes API, or recorded objects with --recorded)
    analyze  per-version figures of stable and canary (/metrics scrapes or Prometheus), PSI,
             decision flips in shadow mode; a table, then one JSON line
    decide   thresholds -> promote | step_up | hold | rollback, with the breached threshold
    apply    the decision as the next values step: `helm upgrade --reuse-values --set ...`
             (or, with --dry-run, the exact command and the resulting values)

analyze | decide | apply chain through stdin: each reads the last JSON line of its input.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings, CliSettingsSource

from rollout.settings import COMMANDS, AnalyzeSettings, ApplySettings, DecideSettings, StatusSettings


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, CliSettingsSource]]:
    """The subcommands, each with the flags of its settings model (rollout/settings.py)."""
    parser = argparse.ArgumentParser(prog="python -m rollout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sources = {}
    for name, (settings, help_) in COMMANDS.items():
        sources[name] = CliSettingsSource(settings, root_parser=sub.add_parser(name, help=help_, description=help_))
    return parser, sources


def parse_settings(argv: list[str] | None = None) -> tuple[str, BaseSettings]:
    parser, sources = build_parser()
    parsed = parser.parse_args(argv)
    settings, _ = COMMANDS[parsed.command]
    return parsed.command, settings(_cli_settings_source=sources[parsed.command](parsed_args=vars(parsed)))


def _last_json(text: str, what: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    raise SystemExit(f"error: no JSON line in the {what} input")


def _read_json_input(source: str, what: str) -> dict:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    return _last_json(text, what)


def _api(args: StatusSettings | AnalyzeSettings):
    from rollout.k8s import KubernetesApi, RecordedApi

    if args.recorded:
        return RecordedApi.from_files(*args.recorded)
    try:
        return KubernetesApi(args.kube_context)
    except Exception as e:  # no in-cluster service account and no usable kubeconfig
        raise SystemExit(f"error: no Kubernetes API configuration (in-cluster or KUBECONFIG): {e}") from e


def cmd_status(args: StatusSettings) -> int:
    from rollout.k8s import rollout_status

    status = rollout_status(_api(args), args.release, args.namespace, args.mode)
    print(json.dumps(status.to_dict()) if args.json_output else status.table())
    return 0 if status.backends else 1


def cmd_analyze(args: AnalyzeSettings) -> int:
    import httpx

    from rollout.analysis import PrometheusSource, ScrapeSource, Side, format_table, parse_window, run_analysis

    stable = Side(list(args.stable_url), args.stable_version, args.stable_matchers)
    canary = Side(list(args.canary_url), args.canary_version, args.canary_matchers)
    live = None
    if args.release:
        from rollout.k8s import predictor_pod_urls, rollout_status

        api = _api(args)
        status = rollout_status(api, args.release, args.namespace, args.mode)
        live = status.to_dict()
        s_b, c_b = status.role("stable"), status.role("canary") or status.role("shadow")
        if c_b is None:  # nothing to judge; a scheduled run says so and ends well
            line = json.dumps({"no_canary": True, "rollout": live})
            print(f"release {args.release}: no canary running, nothing to analyze\n{line}")
            if args.output:
                args.output.write_text(line + "\n")
            return 0
        for side, backend in ((stable, s_b), (canary, c_b)):
            if backend is None:
                continue
            if side.version is None and backend.version and not backend.version.startswith("@"):
                side.version = backend.version
            if not side.urls and status.mode == "gateway":  # one InferenceService per model: its pods are its side
                side.urls = predictor_pod_urls(api, args.namespace, backend.predictor)
        args.shadow = args.shadow or status.shadow  # mirrored traffic: pair the decisions
    with httpx.Client(timeout=args.timeout) as client:
        if args.prometheus:
            if stable.version and stable.version == canary.version and not (stable.matchers or canary.matchers):
                print("error: stable and canary have the same model_version: give --stable-matchers/--canary-matchers", file=sys.stderr)
                return 2
            source = PrometheusSource(client, args.prometheus, args.model_name, args.selector)
        else:
            if not stable.urls or not canary.urls:
                print("error: give --stable-url and --canary-url (or --prometheus, or --release in gateway mode)", file=sys.stderr)
                return 2
            source = ScrapeSource(client, args.model_name)
        if args.shadow and (not stable.urls or not canary.urls):
            print("error: --shadow reads the predictors' decision logs: give --stable-url and --canary-url", file=sys.stderr)
            return 2
        try:
            analysis = run_analysis(source, stable, canary, parse_window(args.window), client if args.shadow else None,
                                    args.model_name, rollout=live)
        except (httpx.HTTPError, RuntimeError, ValueError) as e:
            print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    result = analysis.to_dict()
    line = json.dumps(result, sort_keys=False)
    print(format_table(result))
    print(line)
    if args.output:
        args.output.write_text(line + "\n")
    return 0


def cmd_decide(args: DecideSettings) -> int:
    from rollout.decide import Action, Decision, decide, thresholds_from_values

    analysis = _read_json_input(args.analysis, "analysis")
    if analysis.get("no_canary"):
        line = json.dumps(Decision(Action.HOLD, "no canary running: nothing to judge").to_dict())
        print(f"HOLD: no canary running: nothing to judge\n{line}")
        if args.output:
            args.output.write_text(line + "\n")
        return 0
    steps = tuple(int(s) for s in args.steps.split(",")) if args.steps else None
    try:
        t = thresholds_from_values(args.values, {
            "min_requests": args.min_requests, "max_error_rate_delta": args.max_error_rate_delta,
            "max_p99_ratio": args.max_p99_ratio, "p99_slack_seconds": args.p99_slack_seconds,
            "max_score_psi": args.max_score_psi, "max_decision_flip_share": args.max_decision_flip_share,
            "max_input_psi": args.max_input_psi, "steps": steps})
    except (ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    current, shadow = args.current_percent, args.shadow
    live = analysis.get("rollout") or {}
    values = yaml.safe_load(args.values.read_text()) if args.values else {}
    canary_values = ((values or {}).get("rollout") or {}).get("canary") or {}
    if current is None and live:
        current = live.get("canary_percent")
    if current is None and canary_values.get("enabled"):
        current = canary_values.get("trafficPercent")
    if not shadow:  # not forced: the live status says, else the values
        shadow = bool(live.get("shadow")) if live else bool(((values or {}).get("rollout") or {}).get("shadow"))
    if current is None:
        print("error: the current canary share is unknown: --current-percent, --values, or analyze --release", file=sys.stderr)
        return 2
    decision = decide(analysis, t, int(current), shadow)
    line = json.dumps(decision.to_dict())
    print(f"{decision.action.value.upper()}: {decision.reason}")
    print(line)
    if args.output:
        args.output.write_text(line + "\n")
    return 0


def cmd_apply(args: ApplySettings) -> int:
    from rollout.apply import ApplyError, helm_values, plan, to_yaml
    from rollout.decide import Action, Decision

    if args.action:
        decision = Decision(Action(args.action), "given on the command line", next_percent=args.to)
    else:
        decision = Decision.from_dict(_read_json_input(args.decision, "decision"))
    try:
        values = (yaml.safe_load(args.values.read_text()) or {}) if args.values else helm_values(args.release, args.namespace, args.helm)
        step = plan(decision, values, args.keep_canary)
    except ApplyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"# {step.summary}")
    if step.action == Action.HOLD:
        return 0
    cmd = step.command(args.release, args.chart, args.namespace, args.helm, args.helm_arg)
    if args.dry_run:
        print(shlex.join(cmd))
        print("# resulting values:")
        print(to_yaml(step.values), end="")
        return 0
    print(f"$ {shlex.join(cmd)}", flush=True)
    return subprocess.run(cmd).returncode


def main(argv: list[str] | None = None) -> int:
    try:
        command, args = parse_settings(argv)
    except ValidationError as e:
        print(f"error: invalid rollout settings:\n{e}", file=sys.stderr)
        return 2
    return {"status": cmd_status, "analyze": cmd_analyze, "decide": cmd_decide, "apply": cmd_apply}[command](args)


if __name__ == "__main__":
    sys.exit(main())
