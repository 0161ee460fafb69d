"""training_job/dvc_record.py reads the DVC hash of a training input from the files the real
`dvc` writes (`dvc add` → x.dvc, `dvc repro` → dvc.lock), and the git revision that holds it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from training_job.dvc_record import TAG_HASH, TAG_PATH, TAG_REV, dvc_record, dvc_tags

REPO = Path(__file__).resolve().parents[2]
DVC = Path(sys.executable).with_name("dvc")
EMBEDDED = REPO / "training_job" / "datasets" / "germancredit.csv"


def sh(cwd: Path, *args: str) -> str:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """A git + DVC repository with data/x.csv added to DVC and committed (made once: each
    `dvc` start takes seconds)."""
    if not DVC.exists():
        pytest.fail(f"{DVC} missing: the train extra installs dvc (make venv)")
    tmp_path = tmp_path_factory.mktemp("dvc-repo")
    sh(tmp_path, "git", "init", "-q", "-b", "main")
    sh(tmp_path, "git", "config", "user.email", "t@example.invalid")
    sh(tmp_path, "git", "config", "user.name", "t")
    sh(tmp_path, str(DVC), "init", "-q")
    sh(tmp_path, str(DVC), "config", "core.analytics", "false")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a,b\n1,2\n3,4\n")
    sh(tmp_path, str(DVC), "add", "-q", "data/x.csv")
    sh(tmp_path, "git", "add", "-A")
    sh(tmp_path, "git", "commit", "-q", "-m", "data")
    return tmp_path


@pytest.fixture
def repo(committed: Path, tmp_path: Path) -> Path:
    """A copy of it that a test may change."""
    return Path(shutil.copytree(committed, tmp_path / "repo", symlinks=True))


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_a_dvc_added_file_is_recorded_with_its_hash_and_the_commit(repo: Path) -> None:
    found = dvc_record(repo / "data" / "x.csv")
    assert found is not None
    recorded = yaml.safe_load((repo / "data" / "x.csv.dvc").read_text())["outs"][0]["md5"]
    assert found.data_hash == recorded == md5(repo / "data" / "x.csv")
    assert (found.path, found.record) == ("data/x.csv", "data/x.csv.dvc")
    assert found.rev == sh(repo, "git", "rev-parse", "HEAD")
    assert found.tags() == {TAG_HASH: recorded, TAG_PATH: "data/x.csv", TAG_REV: found.rev}


def test_a_relative_path_from_inside_the_repo_is_found(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    assert dvc_tags("data/x.csv")[TAG_PATH] == "data/x.csv"


def test_changed_bytes_get_no_hash(repo: Path) -> None:
    # the .dvc file names other bytes than those the job read: recording it would mislead
    (repo / "data" / "x.csv").write_text("a,b\n1,2\n")
    assert dvc_record(repo / "data" / "x.csv") is None


def test_an_uncommitted_record_has_no_revision(repo: Path) -> None:
    (repo / "data" / "x.csv").write_text("a,b\n5,6\n")
    sh(repo, str(DVC), "add", "-q", "data/x.csv")
    found = dvc_record(repo / "data" / "x.csv")
    assert found is not None and found.data_hash == md5(repo / "data" / "x.csv")
    assert found.rev is None and TAG_REV not in found.tags()


def test_a_stage_output_is_read_from_dvc_lock(repo: Path) -> None:
    sh(repo, str(DVC), "stage", "add", "-q", "-n", "prepare", "-d", "data/x.csv", "-o", "data/y.csv",
       "cp data/x.csv data/y.csv")
    sh(repo, str(DVC), "repro", "-q")
    found = dvc_record(repo / "data" / "y.csv")
    assert found is not None and found.record == "dvc.lock"
    assert found.data_hash == md5(repo / "data" / "y.csv")


def test_data_outside_dvc_and_object_store_uris_get_nothing(repo: Path, tmp_path_factory) -> None:
    plain = tmp_path_factory.mktemp("plain") / "x.csv"
    plain.write_text("a\n1\n")
    assert dvc_tags(plain) == {}
    assert dvc_tags("s3://bucket/prefix/") == {}
    (repo / "untracked.csv").write_text("a\n1\n")
    assert dvc_tags(repo / "untracked.csv") == {}


def test_the_projects_dvc_tracked_german_data_is_the_embedded_copy() -> None:
    # scripts/dvc-data.sh seeds an empty store from the embedded copy: the same bytes, or it refuses
    recorded = yaml.safe_load((REPO / "data" / "german_credit.csv.dvc").read_text())["outs"][0]
    assert recorded["md5"] == md5(EMBEDDED) and recorded["size"] == EMBEDDED.stat().st_size


def test_without_a_git_binary_a_detached_head_is_the_revision(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    # the training image has no git: the chart's initContainer clones one revision (detached HEAD)
    head = sh(repo, "git", "rev-parse", "HEAD")
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert dvc_record(repo / "data" / "x.csv").rev is None  # a branch HEAD: cannot tell, says nothing
    (repo / ".git" / "HEAD").write_text(head + "\n")
    assert dvc_record(repo / "data" / "x.csv").rev == head
