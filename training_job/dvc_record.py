"""Which DVC-tracked bytes trained a version: the DVC hash of the training input, read from the
files DVC itself writes (``<data>.dvc`` beside a file from ``dvc add``, or ``dvc.lock`` for the
output of a pipeline stage), and the git revision that holds that record.

``dvc checkout`` (after ``git checkout <dvc.rev>``) or ``dvc get . <dvc.path> --rev <dvc.rev>``
then gives back exactly the bytes whose hash is ``dvc.data_hash``. The data set digest
(``data_digest``) stays beside it: it is computed by the job from what it read, whereas the DVC
hash says where to fetch it from.

The ``dvc`` package is not imported: the two YAML formats are DVC's stable public files, and the
training image runs ``dvc`` as a command only (the chart's initContainer).
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

TAG_HASH = "dvc.data_hash"
TAG_PATH = "dvc.path"
TAG_REV = "dvc.rev"


@dataclass(frozen=True)
class DvcRecord:
    data_hash: str
    """DVC's md5 of the file (for a folder: of its listing, ending in ``.dir``)."""
    path: str
    """The data's path from the DVC repository root (POSIX)."""
    record: str
    """The file that holds the hash: ``data/x.csv.dvc`` or ``dvc.lock``."""
    rev: str | None
    """The git commit that holds `record` as it is now; None when it is uncommitted or changed."""

    def tags(self) -> dict[str, str]:
        return {TAG_HASH: self.data_hash, TAG_PATH: self.path, **({TAG_REV: self.rev} if self.rev else {})}


def repo_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _outs_from_dvc_file(dvc_file: Path) -> list[tuple[Path, str]]:
    doc = yaml.safe_load(dvc_file.read_text()) or {}
    return [(dvc_file.parent / o["path"], o["md5"]) for o in doc.get("outs", []) if "md5" in o and "path" in o]


def _outs_from_lock(lock: Path) -> list[tuple[Path, str]]:
    doc = yaml.safe_load(lock.read_text()) or {}
    return [(lock.parent / o["path"], o["md5"])
            for stage in (doc.get("stages") or {}).values()
            for o in stage.get("outs", []) if "md5" in o and "path" in o]


def _committed_rev(root: Path, record: Path) -> str | None:
    """HEAD, when `record` is tracked by git and unchanged since HEAD; otherwise None."""
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)

    rel = str(record.relative_to(root))
    try:
        if git("ls-files", "--error-unmatch", "--", rel).returncode != 0:
            return None
        if git("diff", "--quiet", "HEAD", "--", rel).returncode != 0:
            return None
        head = git("rev-parse", "HEAD")
    except FileNotFoundError:
        return _detached_head(root)
    return head.stdout.strip() if head.returncode == 0 else None


def _detached_head(root: Path) -> str | None:
    """Without a git binary (the training image: the chart's initContainer clones with dvc's
    own git library at one revision), a detached HEAD is that revision. A branch HEAD is not
    read: without git, nothing here could say whether the record changed since."""
    head = root / ".git" / "HEAD"
    text = head.read_text().strip() if head.is_file() else ""
    return text if len(text) == 40 and all(c in "0123456789abcdef" for c in text) else None


def dvc_record(data_path: str | Path) -> DvcRecord | None:
    """The DVC record of a local data file or folder, or None when DVC does not track it (or
    the bytes on disk are no longer the ones it recorded: a hash that names other bytes would
    send an auditor to the wrong data)."""
    path = Path(data_path)
    if "://" in str(data_path) or not path.exists():
        return None
    path = path.resolve()
    root = repo_root(path.parent)
    if root is None:
        return None
    candidates = [path.with_name(path.name + ".dvc"), root / "dvc.lock"]
    for record in candidates:
        if not record.is_file():
            continue
        outs = _outs_from_dvc_file(record) if record.suffix == ".dvc" else _outs_from_lock(record)
        for out, md5 in outs:
            if out.resolve() != path:
                continue
            if path.is_file() and _md5(path) != md5:
                log.warning("%s differs from the DVC hash in %s (dvc add / dvc commit it): no DVC hash recorded",
                            path, record.name)
                return None
            return DvcRecord(data_hash=md5, path=path.relative_to(root).as_posix(),
                             record=record.relative_to(root).as_posix(), rev=_committed_rev(root, record))
    return None


def dvc_tags(data_path: str | Path) -> dict[str, str]:
    found = dvc_record(data_path)
    return found.tags() if found else {}
