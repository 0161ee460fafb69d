"""Fixtures of the container tier: a Docker engine, a local base image, a wheelhouse, the
two images, and a throw-away network for the containers of one session.

Everything goes through the project's scripts (scripts/docker-*.sh), so `make`, CI and
these tests set the engine up the same way. Environment knobs:

- CONTAINER_TEST_BASE_IMAGE: base for both images instead of the local Debian one that
  scripts/docker-base-image.sh builds (e.g. python:3.11-slim-bookworm where a registry
  can be reached).
- KEEP_DOCKERD=1: leave a dockerd this session started running (faster reruns; stop it
  with scripts/docker-stop.sh).
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.containers.support import LOCAL_BASE, SERVE_IMAGE, STATE, TAG, TORCH_INDEX_URL, TRAIN_IMAGE, docker, run_script, script_failed
from tests.conftest import REPO


@dataclass
class Built:
    serve: str
    train: str
    base: str
    extra_ca: Path
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker engine: the running one, or dockerd started (and installed) by
    scripts/docker-setup.sh and stopped by scripts/docker-stop.sh at the end."""
    done = run_script("docker-setup.sh", timeout=900)
    if done.returncode == 3:
        pytest.skip("no Docker engine can be installed or started here (see docker-setup's message above)")
    if done.returncode != 0:
        pytest.fail(script_failed(done) + "\n(see .docker/engine/dockerd.log)")
    started = done.stdout.strip().endswith("started")
    try:
        yield
    finally:
        if started and os.environ.get("KEEP_DOCKERD") != "1":
            run_script("docker-stop.sh", timeout=300)


@pytest.fixture(scope="session")
def base_image(docker_engine) -> str:
    if os.environ.get("CONTAINER_TEST_BASE_IMAGE"):
        return os.environ["CONTAINER_TEST_BASE_IMAGE"]
    done = run_script("docker-base-image.sh", LOCAL_BASE, timeout=1200)
    assert done.returncode == 0, script_failed(done) + "\n(log: .docker/cache/debootstrap.log)"
    return LOCAL_BASE


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """wheelhouse/ made with this machine's pip from uv.lock's hashed export: the builds then run offline (--network none)."""
    done = run_script("docker-wheelhouse.sh", env={"PYTHON": sys.executable, "TORCH_INDEX_URL": TORCH_INDEX_URL}, timeout=1200)
    assert done.returncode == 0, script_failed(done)
    return REPO / "wheelhouse"


def _extra_ca() -> Path:
    """A CA certificate standing for a TLS-intercepting proxy's; made once and kept, so the
    image layers after it stay cached between runs."""
    path = STATE / "cache" / "test-extra-ca.pem"
    if path.exists():
        return path
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "credit-score containers test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="session")
def images(base_image, wheelhouse, tmp_path_factory) -> Built:
    """Both images, built offline from the wheelhouse, with an extra CA as a build input."""
    times = tmp_path_factory.mktemp("build") / "times.txt"
    extra_ca = _extra_ca()
    done = run_script("docker-build.sh", "serve", "train", timeout=2400, env={"TORCH_INDEX_URL": TORCH_INDEX_URL,
        "BASE_IMAGE": base_image, "IMAGE_TAG": TAG, "OFFLINE": "1",
        "EXTRA_CA_CERT": str(extra_ca), "BUILD_TIMES_FILE": str(times),
    })
    assert done.returncode == 0, script_failed(done)
    built = Built(serve=SERVE_IMAGE, train=TRAIN_IMAGE, base=base_image, extra_ca=extra_ca)
    for line in times.read_text().splitlines():
        image, seconds, _size = line.split()
        built.seconds[image] = float(seconds)
    return built


@dataclass
class Session:
    """Names of one test session's containers and network; removed at the end."""
    prefix: str
    network: str
    containers: list[str] = field(default_factory=list)

    def name(self, role: str) -> str:
        n = f"{self.prefix}-{role}"
        self.containers.append(n)
        return n


@pytest.fixture(scope="session")
def session_net(docker_engine):
    prefix = f"credit-score-test-{uuid.uuid4().hex[:8]}"
    s = Session(prefix=prefix, network=f"{prefix}-net")
    docker("network", "create", s.network)
    try:
        yield s
    finally:
        for c in s.containers:
            docker("rm", "-f", c, check=False)
        docker("network", "rm", s.network, check=False)
