"""The synthetic portfolio generator (benchmarks/synthetic_portfolio.py): the same rows for the same
seed whatever the file layout, GMSC's schema, marginals close to the committed parameters, and
clear errors for bad arguments. Real Parquet files under tmp_path; about 5 s on 2 cores."""

from __future__ import annotations

import copy
import hashlib
import math

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from benchmarks import synthetic_portfolio as sp

# Past the first chunk, so every comparison below crosses a chunk boundary.
ROWS = sp.CHUNK_ROWS + 4_464
MARGINAL_ROWS = 100_000


@pytest.fixture(scope="module")
def copula() -> sp.Copula:
    return sp.load_params()


def write(copula, tmp_path, name: str, rows: int = ROWS, **kwargs) -> pa.Table:
    sp.generate(copula, rows, tmp_path / name, progress=False, **kwargs)
    return pads.dataset(tmp_path / name, format="parquet").to_table()


def digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("part-*.parquet"))}


@pytest.fixture(scope="module")
def sample(copula, tmp_path_factory) -> pa.Table:
    return write(copula, tmp_path_factory.mktemp("sample"), "m", MARGINAL_ROWS, files=2)


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_same_bytes(copula, tmp_path) -> None:
    write(copula, tmp_path, "a", files=2, row_group_rows=10_000, seed=7)
    write(copula, tmp_path, "b", files=2, row_group_rows=10_000, seed=7)
    a, b = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert len(a) == 2 and a == b


def test_a_shorter_run_is_a_prefix_of_a_longer_one(copula, tmp_path) -> None:
    short = write(copula, tmp_path, "short", 1_000)
    long = write(copula, tmp_path, "long")
    assert short.equals(long.slice(0, short.num_rows))


def test_rows_do_not_depend_on_files_or_row_groups(copula, tmp_path) -> None:
    one = write(copula, tmp_path, "one")
    many = write(copula, tmp_path, "many", files=3, row_group_rows=7_777)
    assert one.equals(many)
    groups = [g for f in pads.dataset(tmp_path / "many").get_fragments() for g in f.split_by_row_group()]
    assert len(groups) == 3 * math.ceil(ROWS / 3 / 7_777)  # the layout asked for was written


def test_another_seed_other_rows(copula, tmp_path) -> None:
    a, b = write(copula, tmp_path, "a", 2_000, seed=0), write(copula, tmp_path, "b", 2_000, seed=1)
    assert a["id"].equals(b["id"])
    assert not a["DebtRatio"].equals(b["DebtRatio"])


# --- schema --------------------------------------------------------------------------------------


def test_schema_dtypes_nulls_and_ids(sample) -> None:
    assert sample.column_names == list(sp.OUTPUT_COLUMNS)
    for field in sample.schema:
        expected = pa.float64() if field.name in sp.FLOAT_COLUMNS else pa.int64()
        assert field.type == expected, field.name
        nulls = sample[field.name].null_count
        if field.name in ("MonthlyIncome", "NumberOfDependents"):
            assert 0 < nulls < sample.num_rows, field.name
        else:
            assert nulls == 0, field.name
    ids = sample["id"].to_numpy()
    assert np.array_equal(ids, np.arange(1, sample.num_rows + 1))  # unique across both files, in order
    assert set(np.unique(sample[sp.TARGET].to_numpy())) == {0, 1}
    # pandas reads it as GMSC's CSV reads: dependents float64 with NaN
    frame = sample.slice(0, 1_000).to_pandas()
    assert frame["NumberOfDependents"].dtype == np.float64 and frame["NumberOfDependents"].isna().any()


def test_sentinel_rows_carry_the_code_in_all_three_past_due_columns(sample) -> None:
    codes = np.column_stack([sample[c].to_numpy() for c in sp.PAST_DUE])
    coded = (codes >= sp.SENTINEL_MIN).any(axis=1)
    assert coded.any()
    assert np.all(codes[coded].min(axis=1) == codes[coded].max(axis=1))
    assert set(np.unique(codes[coded, 0])) <= {96, 98}


# --- marginals -----------------------------------------------------------------------------------


def default_rate_gap(table: pa.Table, copula: sp.Copula) -> float:
    """|default rate - the parameters' rate| in standard errors of a binomial at this size."""
    p = 1 - copula.params["marginals"][sp.TARGET]["tables"]["all"]["cum"][0]
    rate = float(table[sp.TARGET].to_numpy().mean())
    return abs(rate - p) / math.sqrt(p * (1 - p) / table.num_rows)


def test_default_rate_matches_the_parameters(sample, copula) -> None:
    assert default_rate_gap(sample, copula) < 4.0


def test_a_wrong_target_threshold_is_caught(copula, tmp_path) -> None:
    """The tolerance above fails a threshold off by a percentage point (7.7% instead of 6.7%)."""
    params = copy.deepcopy(copula.params)
    params["marginals"][sp.TARGET]["tables"]["all"]["cum"][0] -= 0.01
    wrong = sp.Copula.from_params(params)
    table = write(wrong, tmp_path, "wrong", MARGINAL_ROWS)
    assert default_rate_gap(table, copula) > 4.0


def test_missing_and_sentinel_rates_match_the_parameters(sample, copula) -> None:
    marginals = copula.params["marginals"]
    for column, indicator in (("MonthlyIncome", sp.INCOME_MISSING), ("NumberOfDependents", sp.DEPENDENTS_MISSING)):
        p = 1 - marginals[indicator]["tables"]["all"]["cum"][0]
        rate = sample[column].null_count / sample.num_rows
        assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / sample.num_rows), column
    p = 1 - marginals[sp.PAST_DUE_CODE]["tables"]["all"]["cum"][0]
    rate = float((sample[sp.PAST_DUE[0]].to_numpy() >= sp.SENTINEL_MIN).mean())
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / sample.num_rows)


def test_continuous_quantiles_match_the_parameter_tables(sample, copula) -> None:
    """Each quantile level of the sample lies within a few binomial SDs in rank of the table's."""
    marginals = copula.params["marginals"]
    income_missing = np.isnan(sample["MonthlyIncome"].to_numpy(zero_copy_only=False))
    for column, rows, table in (
        ("RevolvingUtilizationOfUnsecuredLines", slice(None), marginals["RevolvingUtilizationOfUnsecuredLines"]["tables"]["all"]),
        ("DebtRatio", ~income_missing, marginals["DebtRatio"]["tables"]["0"]),
        ("DebtRatio", income_missing, marginals["DebtRatio"]["tables"]["1"]),
        ("MonthlyIncome", ~income_missing, marginals["MonthlyIncome"]["tables"]["0"]),
    ):
        x = sample[column].to_numpy(zero_copy_only=False)[rows]
        for level in (0.1, 0.25, 0.5, 0.75, 0.9):
            q = float(np.interp(level, sp.LEVELS, table["q"]))
            below = float((x < q).mean())
            tolerance = 5 * math.sqrt(level * (1 - level) / x.size) + float((x == q).mean())  # ties at a mass point
            assert abs(below - level) < tolerance, (column, level, below, q)


def test_check_against_the_stored_gmsc_figures(sample, copula, tmp_path) -> None:
    folder = tmp_path / "c"
    sp.generate(copula, MARGINAL_ROWS, folder, progress=False)
    result = sp.check(folder, copula, rows=MARGINAL_ROWS, model=False)
    assert result["reference"] == "stored in params" and result["rows"] == MARGINAL_ROWS
    assert result["spearman_max_abs_diff"] < 0.07
    assert abs(result["default_rate"][0] - result["default_rate"][1]) < 0.004


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--rows", "0"], ["--rows", "-5"], ["--rows", "10", "--files", "0"],
                                  ["--rows", "10", "--files", "11"], ["--rows", "10", "--row-group-rows", "0"]])
def test_bad_sizes_are_refused_before_any_work(argv, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        sp.main([*argv, "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "must be" in err or "files" in err, err
    assert not out.exists()


def test_an_existing_folder_needs_overwrite(copula, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert sp.main(["--rows", "500", "--out", str(out)]) == 0
    before = digests(out)
    capsys.readouterr()
    assert sp.main(["--rows", "500", "--out", str(out), "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--overwrite" in err and "Traceback" not in err
    assert digests(out) == before  # untouched
    assert sp.main(["--rows", "500", "--out", str(out), "--seed", "3", "--overwrite"]) == 0
    assert digests(out) != before


def test_a_folder_without_data_is_a_clear_check_error(tmp_path, capsys) -> None:
    assert sp.main(["--check", str(tmp_path), "--no-model"]) == 2
    assert "no part-*.parquet" in capsys.readouterr().err
