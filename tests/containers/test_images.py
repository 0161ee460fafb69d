"""The two images, built from the Dockerfiles and run by a real Docker engine.

What the images promise: a fixed non-root uid, the runtime contract (entry point, HOME and
MPLCONFIGDIR in /tmp, a read-only root file system), OCI labels, no compilers, caches or
build inputs in the runtime stage, no torch in the serving image, the torch pin in the
training image (CPU-only, no nvidia-* packages, when built with TORCH_INDEX_URL), and an extra CA given at build time trusted at runtime.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

import pytest

from tests.conftest import REPO
from tests.containers.support import TORCH_INDEX_URL, UID, docker, inspect

pytestmark = pytest.mark.containers

# A regression guard, not the goal (<= 400 MB): kserve 0.21's own dependency closure
# (kubernetes client 74 MB, onnxruntime 76 MB, pandas 38 MB, grpc 26 MB, pillow 20 MB, ...)
# and the 111 MB Debian base come to ~530 MB already.
SERVE_SIZE_BUDGET = 600_000_000
READ_ONLY = ["--read-only", "--tmpfs", "/tmp"]
ENTRYPOINTS = {"serve": ["python", "-m", "kserve_model"], "train": ["python", "-m", "training_job"]}


def image_of(images, kind: str) -> str:
    return images.serve if kind == "serve" else images.train


def run(image: str, *args: str, entrypoint: str | None = None, user: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = ["run", "--rm", *READ_ONLY]
    if entrypoint:
        cmd += ["--entrypoint", entrypoint]
    if user:
        cmd += ["--user", user]
    return docker(*cmd, image, *args, timeout=timeout)


def test_sizes_and_build_times(images, capsys) -> None:
    rows = []
    for image in (images.base, images.serve, images.train):
        size = inspect(image)["Size"]
        seconds = images.seconds.get(image)
        rows.append(f"  {image:40s} {size / 1e6:8.0f} MB   build {'%.0f s' % seconds if seconds is not None else '-'}")
    listing = docker("images", "--format", "{{.Repository}}:{{.Tag}}\t{{.Size}}", "credit-score-*").stdout
    with capsys.disabled():
        print("\n\ncontainer images (docker image inspect .Size, build time of this run):")
        print("\n".join(rows))
        print("docker images:\n  " + "\n  ".join(sorted(listing.split("\n"))).strip() + "\n")
    assert inspect(images.serve)["Size"] <= SERVE_SIZE_BUDGET


@pytest.mark.parametrize("kind", ["serve", "train"])
def test_runs_as_the_fixed_non_root_uid(images, kind) -> None:
    image = image_of(images, kind)
    assert inspect(image)["Config"]["User"] == f"{UID}:{UID}"
    out = run(image, "-u", entrypoint="id").stdout.strip()
    assert out == str(UID) and out != "0"


@pytest.mark.parametrize("kind", ["serve", "train"])
def test_runtime_contract(images, kind) -> None:
    image = image_of(images, kind)
    config = inspect(image)["Config"]
    assert config["Entrypoint"] == ENTRYPOINTS[kind]
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["HOME"] == "/tmp" and env["MPLCONFIGDIR"] == "/tmp"
    assert env["PATH"].startswith("/opt/venv/bin:")
    # The entry point starts under a read-only root with only /tmp writable.
    assert "usage: python -m" in run(image, "--help").stdout


@pytest.mark.parametrize("kind", ["serve", "train"])
def test_oci_labels(images, kind) -> None:
    labels = inspect(image_of(images, kind))["Config"]["Labels"]
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert labels["org.opencontainers.image.version"] == version
    revision = labels["org.opencontainers.image.revision"].removesuffix("-dirty")
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True).returncode == 0:
        # The commit the image was built from: HEAD, or an ancestor if a commit landed since.
        assert re.fullmatch(r"[0-9a-f]{40}", revision), revision
        ancestor = subprocess.run(["git", "-C", str(REPO), "merge-base", "--is-ancestor", revision, "HEAD"])
        assert ancestor.returncode == 0, f"{revision} is not HEAD or an ancestor of it"
    assert "org.opencontainers.image.source" in labels
    assert labels["org.opencontainers.image.title"] == f"credit-score-{kind}"


@pytest.mark.parametrize("kind", ["serve", "train"])
def test_runtime_stage_has_no_compilers_caches_or_build_inputs(images, kind) -> None:
    probe = (
        "for t in gcc cc c++ g++ clang make ld as; do command -v $t; done; "
        "ls -d /root/.cache /wheelhouse /src /tmp/certs 2>/dev/null; "
        "find /opt /app /root /home /var/cache /tmp \\( -name '*.whl' -o -path '*/pip/http*' \\) -print 2>/dev/null | head -5; "
        "find /opt/venv -mindepth 5 -type d \\( -name tests -o -name test \\) | head -5"
    )
    out = run(image_of(images, kind), "-c", probe, entrypoint="sh", user="0").stdout
    assert out.strip() == ""


def test_serve_image_has_no_torch_and_no_training_stack(images) -> None:
    code = ("import importlib.util as u, json; "
            "print(json.dumps([m for m in ('torch', 'sklearn', 'matplotlib', 'pyarrow', 'flask') if u.find_spec(m)]))")
    assert json.loads(run(images.serve, "-c", code, entrypoint="python").stdout) == []


def torch_pin() -> str:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["train"]
    return next(d.split("==", 1)[1] for d in deps if d.startswith("torch=="))


def test_train_image_has_the_pinned_torch_and_a_full_mlflow_server(images) -> None:
    code = ("import json, torch, importlib.metadata as md; "
            "print(json.dumps([torch.__version__, torch.cuda.is_available(), "
            "[d.metadata['Name'] for d in md.distributions() if d.metadata['Name'].lower().startswith('nvidia')]]))")
    version, cuda, nvidia = json.loads(run(images.train, "-c", code, entrypoint="python", timeout=180).stdout)
    assert version.split("+")[0] == torch_pin() and not cuda
    if TORCH_INDEX_URL:
        assert version == f"{torch_pin()}+cpu" and nvidia == []
    assert "--backend-store-uri" in run(images.train, "server", "--help", entrypoint="mlflow").stdout
    # The server extra: basic auth, S3 artifacts, Postgres backend store.
    run(images.train, "-c", "import mlflow.server.auth, boto3, psycopg2", entrypoint="python", timeout=180)


@pytest.mark.parametrize("kind", ["serve", "train"])
def test_extra_ca_given_at_build_time_is_trusted_at_runtime(images, kind) -> None:
    pem_body = "".join(images.extra_ca.read_text().split("-----")[2].split())
    bundle = run(image_of(images, kind), "/etc/ssl/certs/ca-certificates.crt", entrypoint="cat").stdout
    assert pem_body in "".join(bundle.split())
    code = ("import ssl; print(any('credit-score containers test CA' in str(c['subject']) "
            "for c in ssl.create_default_context().get_ca_certs()))")
    assert run(image_of(images, kind), "-c", code, entrypoint="python").stdout.strip() == "True"
