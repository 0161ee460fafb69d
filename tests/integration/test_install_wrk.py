"""scripts/install-wrk.sh: a wrk already there is used as is; without root it builds wrk from
Debian's pinned source tarballs, and what it builds drives a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from benchmarks.wrk import parse_wrk
from tests.conftest import REPO
from tests.procs import free_port, stop, wait_http

SCRIPT = REPO / "scripts" / "install-wrk.sh"


def test_wrk_on_path_is_used_without_installing(tmp_path) -> None:
    fake = tmp_path / "bin" / "wrk"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho fake\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "TOOLS_DIR": str(tmp_path / "tools")}
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(fake)
    assert not (tmp_path / "tools").exists()


@pytest.mark.integration
@pytest.mark.benchmark
@pytest.mark.slow
def test_source_build_drives_a_real_server(tmp_path) -> None:
    env = {**os.environ, "WRK_FROM_SOURCE": "1", "TOOLS_DIR": str(tmp_path / "tools")}
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    wrk = tmp_path / "tools" / "bin" / "wrk"
    assert done.stdout.strip().splitlines()[-1] == str(wrk)
    version = subprocess.run([str(wrk), "--version"], capture_output=True, text=True, timeout=30)
    assert re.search(r"wrk 4\.1\.0", version.stdout + version.stderr)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("ok")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              cwd=tmp_path / "site", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/", 60, server)
        run = subprocess.run([str(wrk), "-t1", "-c2", "-d1s", "--latency", f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        result = parse_wrk(run.stdout)
        assert result.requests > 0 and result.non_2xx == 0 and result.p99_ms is not None
    finally:
        stop(server)
