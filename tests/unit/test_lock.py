"""uv.lock is the environment: current with pyproject.toml (`uv lock --check`, run by the
project's own uv), hashed for every package from the index, honest about the torch build it
takes, and what `make venv` installed into .venv is exactly it.

After a dependency change in pyproject.toml, `make lock` regenerates the lock."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# No download for the check of the real lock: it reads pyproject.toml and uv.lock only.
OFFLINE = {**os.environ, "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def uv() -> Path:
    """The uv that pyproject.toml's required-version names (scripts/uv.sh installs it, as
    `make venv` does): a missing one is a failure, not a skip, since make test installs it."""
    done = subprocess.run(["bash", str(REPO / "scripts" / "uv.sh")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def lock() -> dict:
    return tomllib.loads((REPO / "uv.lock").read_text())


def uv_lock_check(uv: Path, project: Path, env: dict[str, str] = OFFLINE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(uv), "lock", "--check", "--project", str(project)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_the_lock_is_current_with_pyproject(uv: Path) -> None:
    done = uv_lock_check(uv, REPO)
    assert done.returncode == 0, f"uv.lock is behind pyproject.toml: run `make lock`\n{done.stderr[-2000:]}"


def test_the_lock_check_fails_when_pyproject_moves_on(uv: Path, tmp_path: Path) -> None:
    # a requirement the lock has never seen: the check must say so, not pass
    shutil.copy(REPO / "uv.lock", tmp_path / "uv.lock")
    text = (REPO / "pyproject.toml").read_text()
    assert '"pytest>=8",' in text
    (tmp_path / "pyproject.toml").write_text(text.replace('"pytest>=8",', '"pytest>=8",\n  "six>=1.17.0",', 1))
    # Online: to say the lock is stale uv resolves the changed requirements, which reads the index
    # pages of every package; offline that works only where uv's cache happens to hold them all
    # (a fresh machine's does not: "catboost was not found in the cache").
    online = {k: v for k, v in OFFLINE.items() if k != "UV_OFFLINE"}
    done = uv_lock_check(uv, tmp_path, online)
    assert done.returncode != 0
    assert "needs to be updated" in done.stderr, done.stderr[-2000:]


def test_every_package_from_the_index_is_hashed(lock: dict) -> None:
    unhashed = []
    for package in lock["package"]:
        if "registry" not in package.get("source", {}):
            continue  # the project itself (editable)
        files = [package["sdist"]] if "sdist" in package else []
        files += package.get("wheels", [])
        if not files or any(not f.get("hash", "").startswith("sha256:") for f in files):
            unhashed.append(package["name"])
    assert not unhashed, f"packages without sha256 hashes in uv.lock: {unhashed}"


def test_the_lock_takes_the_pinned_torch_and_says_which_build(lock: dict) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pin = next(r for r in pyproject["project"]["optional-dependencies"]["train"] if r.startswith("torch=="))
    torches = [p for p in lock["package"] if p["name"] == "torch"]
    assert torches
    for torch in torches:  # one per platform split, if the lock forks
        deps = {d["name"]: d.get("marker", "") for d in torch.get("dependencies", [])}
        nvidia = {name: marker for name, marker in deps.items() if name.startswith("nvidia-")}
        if torch["source"].get("registry") == "https://pypi.org/simple":
            # PyPI's Linux torch is the CUDA build: the lock names its nvidia-* wheels (for Linux only)
            assert torch["version"] == pin.split("==", 1)[1]
            assert nvidia and all("linux" in marker for marker in nvidia.values()), nvidia
        else:  # the CPU index as a uv index setting (README): its local version, no CUDA packages
            assert torch["version"].split("+")[0] == pin.split("==", 1)[1] and not nvidia


def test_venv_is_the_lock(uv: Path) -> None:
    """What `make venv` installed is exactly the lock, all extras (no drift by hand installs)."""
    if not (REPO / ".venv").is_dir():
        pytest.skip("no .venv (make venv builds it)")
    done = subprocess.run([str(uv), "sync", "--locked", "--all-extras", "--check", "--project", str(REPO)],
                          capture_output=True, text=True, env=OFFLINE, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_images_take_the_projects_uv() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = pyproject["tool"]["uv"]["required-version"].removeprefix("==")
    for dockerfile in ("Dockerfile.serve", "Dockerfile.train"):
        text = (REPO / dockerfile).read_text()
        assert f"ARG UV_VERSION={wanted}\n" in text, f"{dockerfile}: ARG UV_VERSION is not {wanted}"


def image_requirements(uv: Path, *extras: str, **env: str) -> list[str]:
    done = subprocess.run(["sh", str(REPO / "scripts" / "docker-requirements.sh"), str(REPO), *extras],
                          capture_output=True, text=True, env={**OFFLINE, "UV": str(uv), **env}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if line and not line[0].isspace() and not line.startswith("#")]


def test_the_image_requirements_are_the_lock_with_hashes(uv: Path, lock: dict) -> None:
    locked = {p["name"]: p["version"] for p in lock["package"]}
    lines = image_requirements(uv, "train", "server")
    pins = dict(re.match(r"([A-Za-z0-9._-]+)==([^ ;]+)", line).groups() for line in lines)
    assert all(line.endswith("\\") for line in lines), "every requirement is followed by its --hash lines"
    assert {name.lower(): v for name, v in pins.items()}.items() <= {k.lower(): v for k, v in locked.items()}.items()
    assert "torch" in pins and "dvc" in pins and "kserve" not in pins
    # the CPU variant leaves out exactly the CUDA build's packages, for the CPU index's torch
    cpu = {re.match(r"[A-Za-z0-9._-]+", line).group(0) for line in image_requirements(
        uv, "train", "server", TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu")}
    assert set(pins) - cpu == {n for n in pins if n == "torch" or n == "triton" or n.startswith("nvidia-")}
