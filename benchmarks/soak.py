"""Soak benchmark: our predictor at twice its nominal rate for a minute, valid and invalid requests mixed.

    python -m benchmarks.soak [--seconds 60] [--windows 6] [--nominal RPS] [--nominal-seconds 10]
                              [--connections 16] [--invalid-share 0.1] [--tracking-uri URL]

Starts a local MLflow server, trains and registers config 000 (or takes the champion of a running
MLflow, `--tracking-uri`) and starts our predictor on it (one process, audit record on, as
benchmarks.serving does). The nominal rate is wrk's throughput with
valid one-row requests over 8 connections (`--nominal-seconds`), unless `--nominal` gives it. Then
`--seconds` of load offered at twice that rate (benchmarks/soak.lua: one wrk thread of valid
requests, one of invalid ones, each paced on a schedule), in `--windows` consecutive wrk runs, with
the server's RSS read after each. Prints per window: offered and achieved rate, valid answers and
their errors, invalid answers and how many were not 4xx, p50/p99 (all requests) and RSS; then the
goals (valid: 0 errors; invalid: all 4xx; RSS growth over the soak < 10%; p99 stable across
windows) and one JSON line. Figures are printed, not judged: twice the nominal rate is past what
the server can answer, so latency is queueing, and on a shared machine it is noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import psutil

from benchmarks.serving import MODEL, applicants, registered_model, start_ours, v2_inputs
from benchmarks.wrk import WrkMissing, find_wrk, post_script, run_wrk
from tests.procs import stop, wait_http

LUA = Path(__file__).with_name("soak.lua")
NOMINAL_CONNECTIONS = 8


def invalid_bodies(valid_inputs: list[dict]) -> dict[str, bytes]:
    """One request for each way a client gets it wrong; every one of them must be answered 4xx."""
    def with_input(name: str, **change: object) -> list[dict]:
        return [{**i, **change} if i["name"] == name else i for i in valid_inputs]

    numeric = next(i["name"] for i in valid_inputs if i["datatype"] != "BYTES")
    return {
        "out_of_range": json.dumps({"inputs": with_input("age_in_years", data=[7])}).encode(),
        "protected_attribute": json.dumps({"inputs": [*valid_inputs, {"name": "foreign_worker", "datatype": "BYTES",
                                                                      "shape": [1], "data": ["yes"]}]}).encode(),
        "missing_input": json.dumps({"inputs": valid_inputs[1:]}).encode(),
        "wrong_datatype": json.dumps({"inputs": with_input(numeric, datatype="BYTES", data=["many"])}).encode(),
        "shape_mismatch": json.dumps({"inputs": with_input(numeric, shape=[2])}).encode(),
        "not_json": b'{"inputs": [',
    }


def tree_rss(proc: psutil.Process) -> int:
    """RSS of the server and any children it runs (bytes)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def parse_counts(stdout: str) -> dict[str, dict[str, int]]:
    counts = {}
    for line in stdout.splitlines():
        if line.startswith("SOAK "):
            row = json.loads(line[5:])
            counts[row.pop("kind")] = row
    if set(counts) != {"valid", "invalid"}:
        raise RuntimeError(f"soak.lua printed no counts for both kinds:\n{stdout[-2000:]}")
    return counts


def soak(url: str, proc: psutil.Process, work: Path, args: argparse.Namespace) -> dict:
    valid_inputs = v2_inputs(applicants(1))
    valid = json.dumps({"inputs": valid_inputs}).encode()
    if args.nominal:
        nominal = args.nominal
    else:
        print(f"measuring the nominal rate ({args.nominal_seconds} s) ...", file=sys.stderr)
        run = run_wrk(url, post_script(work, valid, "nominal"), args.nominal_seconds, NOMINAL_CONNECTIONS)
        if run.non_2xx or run.socket_errors:
            raise RuntimeError(f"nominal run: {run.non_2xx} error responses, {run.socket_errors} socket errors")
        nominal = run.rps
    files = [work / "valid.json"]
    files[0].write_bytes(valid)
    for name, body in invalid_bodies(valid_inputs).items():
        files.append(work / f"invalid-{name}.json")
        files[-1].write_bytes(body)
    offered = 2 * nominal
    rates = (offered * (1 - args.invalid_share), offered * args.invalid_share)
    window_s = max(1, round(args.seconds / args.windows))
    rss0 = tree_rss(proc)
    print(f"soak: {args.windows} x {window_s} s at {offered:,.0f} req/s offered (2 x nominal {nominal:,.0f}), "
          f"{args.invalid_share:.0%} invalid; RSS at start {rss0 / 2**20:,.1f} MiB", file=sys.stderr)
    windows = []
    for w in range(args.windows):
        run = run_wrk(url, LUA, window_s, args.connections, threads=2,
                      script_args=(f"{rates[0]:.3f}", f"{rates[1]:.3f}", *map(str, files)))
        counts = parse_counts(run.stdout)
        v, i = counts["valid"], counts["invalid"]
        windows.append({
            "window": w + 1, "achieved_rps": run.rps, "p50_ms": run.p50_ms, "p99_ms": run.p99_ms,
            "valid": v["2xx"] + v["4xx"] + v["5xx"] + v["other"], "valid_errors": v["4xx"] + v["5xx"] + v["other"],
            "invalid": i["2xx"] + i["4xx"] + i["5xx"] + i["other"], "invalid_not_4xx": i["2xx"] + i["5xx"] + i["other"],
            "socket_errors": run.socket_errors, "rss_mib": tree_rss(proc) / 2**20,
        })
    p99 = [w["p99_ms"] for w in windows if w["p99_ms"] is not None]
    return {
        "nominal_rps": nominal, "offered_rps": offered, "seconds": window_s * args.windows,
        "connections": args.connections, "invalid_share": args.invalid_share,
        "valid": sum(w["valid"] for w in windows), "valid_errors": sum(w["valid_errors"] for w in windows),
        "invalid": sum(w["invalid"] for w in windows), "invalid_not_4xx": sum(w["invalid_not_4xx"] for w in windows),
        "socket_errors": sum(w["socket_errors"] for w in windows),
        "rss_start_mib": rss0 / 2**20, "rss_end_mib": windows[-1]["rss_mib"],
        "rss_growth": windows[-1]["rss_mib"] * 2**20 / rss0 - 1,
        "p99_min_ms": min(p99) if p99 else None, "p99_max_ms": max(p99) if p99 else None,
        "windows": windows,
    }


def report(r: dict) -> None:
    cols = ("window", "achieved_rps", "valid", "valid_errors", "invalid", "invalid_not_4xx", "socket_errors",
            "p50_ms", "p99_ms", "rss_mib")
    print("".join(f"{c:>16}" for c in cols))
    for w in r["windows"]:
        print("".join(f"{'-' if w[c] is None else f'{w[c]:,.2f}' if isinstance(w[c], float) else f'{w[c]:,}':>16}"
                      for c in cols))
    print(f"offered {r['offered_rps']:,.0f} req/s (2 x nominal {r['nominal_rps']:,.0f}) for {r['seconds']} s "
          f"over {r['connections']} connections")
    print(f"valid: {r['valid']:,} answered, {r['valid_errors']:,} errors (goal 0); socket errors {r['socket_errors']}")
    print(f"invalid: {r['invalid']:,} answered, {r['invalid_not_4xx']:,} not 4xx (goal 0: all 4xx)")
    print(f"RSS: {r['rss_start_mib']:,.1f} -> {r['rss_end_mib']:,.1f} MiB, growth {r['rss_growth']:+.1%} (goal < 10%)")
    if r["p99_min_ms"] is not None:
        print(f"p99 per window: {r['p99_min_ms']:,.2f}-{r['p99_max_ms']:,.2f} ms "
              f"(max/min {r['p99_max_ms'] / r['p99_min_ms']:,.2f}; stable: no upward trend)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60, help="soak length, split into --windows wrk runs")
    p.add_argument("--windows", type=int, default=6)
    p.add_argument("--nominal", type=float, default=None, help="nominal req/s; measured first when not given")
    p.add_argument("--nominal-seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=16, help="split evenly between valid and invalid requests")
    p.add_argument("--invalid-share", type=float, default=0.1)
    p.add_argument("--tracking-uri", default=None,
                   help=f"a running MLflow with {MODEL}@champion registered: no server of our own, no training")
    p.add_argument("--train-set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="training override for config 000 (smoke runs: a one-seed, few-epoch model)")
    args = p.parse_args(argv)
    if not 0 < args.invalid_share < 1 or args.windows < 1 or args.connections < 2 or args.connections % 2:
        p.error("--invalid-share in (0, 1), --windows >= 1, --connections even and >= 2")
    try:
        find_wrk()
    except WrkMissing as e:
        print(f"benchmarks.soak: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp, (
            nullcontext(args.tracking_uri) if args.tracking_uri else registered_model(Path(tmp), args.train_set)) as tracking:
        work = Path(tmp)
        proc, http, _ = start_ours(tracking, work)
        try:
            t0 = time.perf_counter()
            wait_http(f"http://127.0.0.1:{http}/v2/models/{MODEL}/ready", 120, proc)
            print(f"predictor ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            result = soak(f"http://127.0.0.1:{http}/v2/models/{MODEL}/infer", psutil.Process(proc.pid), work, args)
        finally:
            stop(proc)
    report(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
