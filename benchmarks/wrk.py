"""wrk, the load generator of the serving and soak benchmarks: where it is, and one run of it.

A benchmark without wrk stops with how to get it (scripts/install-wrk.sh, which `make bench`
and `make soak` run) rather than printing a table with the throughput missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCAL_WRK = REPO / ".tools" / "bin" / "wrk"
INSTALL_HINT = ("wrk not found on PATH nor in .tools/bin: run `bash scripts/install-wrk.sh` (Debian's package "
                "when root or sudo works, else a build from source into .tools/bin), or `make bench`, which runs it")


class WrkMissing(RuntimeError):
    pass


def find_wrk() -> str:
    found = shutil.which("wrk") or (str(LOCAL_WRK) if os.access(LOCAL_WRK, os.X_OK) else None)
    if found is None:
        raise WrkMissing(INSTALL_HINT)
    return found


@dataclass
class WrkResult:
    rps: float
    requests: int
    p50_ms: float | None
    p99_ms: float | None
    non_2xx: int
    socket_errors: int
    stdout: str


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * _UNIT_MS[unit]


def run_wrk(url: str, script: Path, seconds: float, connections: int, threads: int = 1,
            script_args: tuple[str, ...] = ()) -> WrkResult:
    """One wrk run with --latency; `script` sets the request (and may report more in done())."""
    cmd = [find_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    if script_args:
        cmd += ["--", *script_args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise RuntimeError(f"wrk failed (exit {done.returncode}) against {url}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return parse_wrk(done.stdout)


def parse_wrk(out: str) -> WrkResult:
    """wrk's report (with --latency) as numbers."""
    # the --latency table: "     50%    1.23ms"
    pct = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
        p50_ms=pct.get("50"), p99_ms=pct.get("99"),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
        stdout=out,
    )


def post_script(workdir: Path, body: bytes, name: str = "post") -> Path:
    """A wrk script POSTing `body` as JSON."""
    body_file = workdir / f"{name}.json"
    body_file.write_bytes(body)
    script = workdir / f"{name}.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    return script
