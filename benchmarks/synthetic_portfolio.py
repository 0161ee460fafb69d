"""Synthetic GMSC-like credit portfolios of any size, for training at scale (seeded, chunked Parquet).

    python -m benchmarks.synthetic_portfolio --rows 50000000 --out /data/synth50m --files 64
    python -m benchmarks.synthetic_portfolio --check /data/synth50m [--gmsc GMSC.csv.gz]
    python -m benchmarks.synthetic_portfolio --fit GMSC.csv.gz --params benchmarks/gmsc_copula.json

The model is a Gaussian copula fitted to "Give Me Some Credit" (150,000 rows), with parameters
in benchmarks/gmsc_copula.json (committed; the GMSC file is needed only to re-fit):

- 14 latent standard normals Z with correlation R: the target, the 10 features and three
  regime indicators (MonthlyIncome missing, NumberOfDependents missing, past-due sentinel code).
- Each column is its empirical marginal applied to U = Phi(Z): integer columns with few values
  (age, counts, target, indicators) by their exact probability table, so mass points (84% zeros
  in the past-due counts) stay and the values stay integer; the three continuous columns by a
  quantile table (1001 even levels plus 12 in the tails), linearly interpolated, rounded where
  every GMSC value is an integer (MonthlyIncome; DebtRatio where income is missing).
- The target is a thresholded latent normal in the same copula: default iff
  Z_target > Phi^-1(1 - 0.0668), so its dependence on every feature is part of R.
- Regimes: a column's marginal switches on one indicator. MonthlyIncome is missing
  (19.8%) and NumberOfDependents missing (2.6%) when their indicator is 1, so missingness
  depends on the latent (default rate, DebtRatio, ...) like in GMSC; DebtRatio has one table for
  rows with income and one without (GMSC then holds the debt itself: median 1159 vs 0.30);
  the past-due sentinel (GMSC's 96/98 codes, 0.18% of rows, always in all three past-due
  columns together) sets the three columns to the code, otherwise they follow their own table.
- R is the correlation of the normal scores of mid-ranks (ranks within each regime), pairwise
  over rows where both columns have a value, then calibrated: ties attenuate the normal-score
  correlation of discrete columns, so R is moved until a simulated sample reproduces GMSC's
  normal-score correlations (a few fixed-point steps with one fixed simulated sample).

Preserved: the marginals (per regime), rank correlations, the default rate, missing rates and
their dependence on the rest. Not preserved: dependence beyond pairwise Gaussian (tail
dependence, interactions: a tree model finds somewhat less signal than on GMSC), exact
co-occurrence patterns (sentinel rows in GMSC also have utilisation 1.0 and no open lines;
here only the past-due columns follow the code), and any time or cohort structure.

Output: a folder of K Parquet files (part-00000.parquet, ...; ZSTD, row groups of R rows) with
`id` (int64, the global row number from 1, unique across files), `SeriousDlqin2yrs` (int64) and
the 10 features under GMSC's names in GMSC's order: float64 for RevolvingUtilizationOfUnsecured-
Lines, DebtRatio, MonthlyIncome; int64 for age and the counts. Missing values are Parquet nulls
(MonthlyIncome float64, NumberOfDependents int64); pandas reads NumberOfDependents as float64
with NaN, exactly as it reads GMSC's CSV. A `_README.md` in the folder records how it was made
(readers skip files starting with `_`).

Reproducibility: rows are drawn in fixed chunks of 65,536; chunk k uses numpy's PCG64 seeded by
SeedSequence(seed, spawn_key=(k,)), so the data depends only on (params, seed, row number),
not on --files, --row-group-rows or --rows (a shorter run is a prefix of a longer one). No BLAS
is used in the draw (the Cholesky product is a fixed sequence of elementwise operations), so
the values do not depend on the BLAS build or thread count; a numpy release that changed its
normal sampler would change them. Memory is one chunk (and one row group) whatever --rows is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import math
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

# pandas and sklearn are imported where they are used: generation needs none of them.

FORMAT = "gmsc-gaussian-copula/1"
ID = "id"
TARGET = "SeriousDlqin2yrs"
FEATURES = (
    "RevolvingUtilizationOfUnsecuredLines",
    "age",
    "NumberOfTime30-59DaysPastDueNotWorse",
    "DebtRatio",
    "MonthlyIncome",
    "NumberOfOpenCreditLinesAndLoans",
    "NumberOfTimes90DaysLate",
    "NumberRealEstateLoansOrLines",
    "NumberOfTime60-89DaysPastDueNotWorse",
    "NumberOfDependents",
)
FLOAT_COLUMNS = frozenset({"RevolvingUtilizationOfUnsecuredLines", "DebtRatio", "MonthlyIncome"})
PAST_DUE = ("NumberOfTime30-59DaysPastDueNotWorse", "NumberOfTimes90DaysLate", "NumberOfTime60-89DaysPastDueNotWorse")
OUTPUT_COLUMNS = (ID, TARGET, *FEATURES)

# Hidden latent columns: they switch the marginals of other columns (never written).
INCOME_MISSING = "_income_missing"
DEPENDENTS_MISSING = "_dependents_missing"
PAST_DUE_CODE = "_past_due_code"
INDICATORS = (INCOME_MISSING, DEPENDENTS_MISSING, PAST_DUE_CODE)
LATENT = (TARGET, *FEATURES, *INDICATORS)
# GMSC writes 96 and 98 ("unknown") into all three past-due columns of the same rows; a row is a
# sentinel row when the three are equal and at least this.
SENTINEL_MIN = 90

# column -> (indicator, role). "missing": state 1 is a null; "code": a state other than 0 is the
# value itself; "split": one marginal per state.
REGIMES: dict[str, tuple[str, str]] = {
    "MonthlyIncome": (INCOME_MISSING, "missing"),
    "DebtRatio": (INCOME_MISSING, "split"),
    "NumberOfDependents": (DEPENDENTS_MISSING, "missing"),
    **{c: (PAST_DUE_CODE, "code") for c in PAST_DUE},
}

CHUNK_ROWS = 65_536  # part of the data's definition: changing it changes every row after the first chunk
DEFAULT_ROW_GROUP_ROWS = 131_072
DEFAULT_PARAMS = Path(__file__).with_name("gmsc_copula.json")
MAX_DISCRETE_VALUES = 256  # integer columns with more distinct values get a quantile table
# Even levels every 0.1% plus finer ones in both tails: the top 0.1% of DebtRatio and income spans
# orders of magnitude, and one straight segment from the 99.9th percentile to the max would put
# a fat uniform slab there (it would raise mean income by a fifth).
_TAIL = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4)
LEVELS = np.unique(np.concatenate([np.linspace(0.0, 1.0, 1001), _TAIL, 1.0 - np.array(_TAIL)]))
CALIBRATION_ROWS = 300_000
CALIBRATION_SEED = 20_161
CHECK_ROWS = 200_000
QUANTILES = (0.01, 0.25, 0.5, 0.75, 0.99)
COMPRESSION = "zstd"


# --- marginals --------------------------------------------------------------------------------


def _sig(x: float, digits: int = 8) -> float:
    """x to `digits` significant digits: the JSON stays small, far below GMSC's own precision."""
    return float(f"{x:.{digits}g}")


def discrete_table(x: np.ndarray) -> dict[str, Any]:
    """Exact probability table of an integer column: distinct values and cumulative probabilities."""
    values, counts = np.unique(x, return_counts=True)
    cum = np.cumsum(counts) / counts.sum()
    return {"kind": "discrete", "values": [int(v) for v in values], "cum": [_sig(c, 10) for c in cum[:-1]]}


def quantile_table(x: np.ndarray) -> dict[str, Any]:
    """Quantiles at LEVELS (linear interpolation between order statistics); integer flag kept."""
    q = np.quantile(x, LEVELS)
    return {"kind": "quantiles", "integer": bool(np.all(x == np.round(x))), "q": [_sig(v) for v in q]}


def marginal_table(x: np.ndarray) -> dict[str, Any]:
    x = np.asarray(x, dtype=np.float64)
    if np.all(x == np.round(x)) and np.unique(x).size <= MAX_DISCRETE_VALUES:
        return discrete_table(x)
    return quantile_table(x)


def invert(table: dict[str, Any], u: np.ndarray) -> np.ndarray:
    """The table's quantile function at u in [0, 1] (float64; NaN for a missing state)."""
    kind = table["kind"]
    if kind == "discrete":
        # value i covers (cum[i-1], cum[i]]: the mass points are exact
        idx = np.searchsorted(np.asarray(table["cum"]), u, side="left")
        return np.asarray(table["values"], dtype=np.float64)[idx]
    if kind == "quantiles":
        out = np.interp(u, LEVELS, np.asarray(table["q"]))
        return np.rint(out) if table["integer"] else out
    if kind == "constant":
        return np.full(u.shape, float(table["value"]))
    if kind == "missing":
        return np.full(u.shape, np.nan)
    raise ValueError(f"unknown marginal kind {kind!r}")


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Copula:
    """Parameters ready to draw from: marginals per regime state and the Cholesky factor of R."""

    params: dict[str, Any]
    cholesky: np.ndarray
    sha256: str

    @classmethod
    def from_params(cls, params: dict[str, Any], sha256: str = "") -> Copula:
        if params.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} parameter file (format={params.get('format')!r})")
        if tuple(params["latent"]) != LATENT:
            raise ValueError(f"latent columns {params['latent']} are not {list(LATENT)}")
        if params["levels"] != len(LEVELS):
            raise ValueError(f"the file has {params['levels']} quantile levels, this code {len(LEVELS)}")
        corr = np.asarray(params["correlation"], dtype=np.float64)
        return cls(params, np.linalg.cholesky(corr), sha256)


def load_params(path: Path = DEFAULT_PARAMS) -> Copula:
    raw = Path(path).read_bytes()
    return Copula.from_params(json.loads(raw), hashlib.sha256(raw).hexdigest())


def latent_values(copula: Copula, u: np.ndarray) -> dict[str, np.ndarray]:
    """Every latent column (float64, NaN = missing) from uniforms u (rows x len(LATENT))."""
    marginals = copula.params["marginals"]
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(LATENT):  # indicators have no regime, so their values come first below
        if name in INDICATORS:
            out[name] = invert(marginals[name]["tables"]["all"], u[:, j])
    for j, name in enumerate(LATENT):
        if name in INDICATORS:
            continue
        tables = marginals[name]["tables"]
        if name not in REGIMES:
            out[name] = invert(tables["all"], u[:, j])
            continue
        state = out[REGIMES[name][0]]
        col = np.empty(u.shape[0])
        for key, table in tables.items():
            rows = state == float(key)
            col[rows] = invert(table, u[rows, j])
        out[name] = col
    return out


def draw_chunk(copula: Copula, seed: int, chunk: int, rows: int = CHUNK_ROWS) -> dict[str, np.ndarray]:
    """The first `rows` rows of chunk `chunk` (rows <= CHUNK_ROWS): the same for any rows."""
    if not 0 < rows <= CHUNK_ROWS:
        raise ValueError(f"rows must be in 1..{CHUNK_ROWS}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk,))))
    # row-major fill: the first `rows` rows of a full chunk are these rows
    z = rng.standard_normal((rows, len(LATENT)))
    return latent_values(copula, ndtr(correlate(z, copula.cholesky)))


def correlate(z: np.ndarray, cholesky: np.ndarray) -> np.ndarray:
    """z @ L.T as a fixed sequence of elementwise products and sums: BLAS would pick its kernel
    (and summation order) by shape and thread count, and a last-bit difference can move a value
    across a mass point."""
    out = np.zeros_like(z)
    for i in range(cholesky.shape[0]):
        for k in range(i + 1):
            out[:, i] += cholesky[i, k] * z[:, k]
    return out


def draw_rows(copula: Copula, seed: int, start: int, stop: int) -> Iterator[dict[str, np.ndarray]]:
    """Latent values of the global rows [start, stop), chunk by chunk (at most one chunk in memory)."""
    first, last = start // CHUNK_ROWS, (stop - 1) // CHUNK_ROWS
    for k in range(first, last + 1):
        lo, hi = max(start, k * CHUNK_ROWS), min(stop, (k + 1) * CHUNK_ROWS)
        block = draw_chunk(copula, seed, k, hi - k * CHUNK_ROWS)
        yield {name: v[lo - k * CHUNK_ROWS :] for name, v in block.items()}


def arrow_schema() -> pa.Schema:
    fields = [pa.field(ID, pa.int64(), nullable=False), pa.field(TARGET, pa.int64(), nullable=False)]
    for name in FEATURES:
        kind = pa.float64() if name in FLOAT_COLUMNS else pa.int64()
        fields.append(pa.field(name, kind, nullable=name in ("MonthlyIncome", "NumberOfDependents")))
    return pa.schema(fields)


def to_table(block: dict[str, np.ndarray], start: int, schema: pa.Schema) -> pa.Table:
    """Output columns of a block whose first row is global row `start` (id = row number + 1)."""
    n = len(block[TARGET])
    arrays = [pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64))]
    for field in schema:
        if field.name == ID:
            continue
        v = block[field.name]
        missing = np.isnan(v)
        mask = missing if missing.any() else None
        if pa.types.is_int64(field.type):
            v = np.where(missing, 0.0, v).astype(np.int64)
        arrays.append(pa.array(v, type=field.type, mask=mask))
    return pa.Table.from_arrays(arrays, schema=schema)


class _RowSource:
    """Hands out consecutive global rows in blocks of any size while drawing each chunk once."""

    def __init__(self, copula: Copula, seed: int, start: int, stop: int) -> None:
        self._blocks = draw_rows(copula, seed, start, stop)
        self._pending: dict[str, np.ndarray] | None = None

    def take(self, n: int) -> dict[str, np.ndarray]:
        parts: list[dict[str, np.ndarray]] = []
        while n > 0:
            if self._pending is None:
                self._pending = next(self._blocks)
            have = len(self._pending[TARGET])
            cut = min(n, have)
            parts.append({k: v[:cut] for k, v in self._pending.items()})
            self._pending = None if cut == have else {k: v[cut:] for k, v in self._pending.items()}
            n -= cut
        if len(parts) == 1:
            return parts[0]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def file_ranges(rows: int, files: int) -> list[tuple[int, int]]:
    """Global row range of each file: as even as possible, in order."""
    return [(f * rows // files, (f + 1) * rows // files) for f in range(files)]


def _writer_options() -> dict[str, Any]:
    # ids are consecutive: delta encoding stores them in ~0 bytes, dictionary encoding would not
    return {
        "compression": COMPRESSION,
        "use_dictionary": [c for c in OUTPUT_COLUMNS if c != ID],
        "column_encoding": {ID: "DELTA_BINARY_PACKED"},
        "write_statistics": True,
    }


def estimate_bytes_per_row(copula: Copula, seed: int) -> float:
    """Compressed size of the first chunk, written to memory."""
    schema = arrow_schema()
    block = draw_chunk(copula, seed, 0)
    buf = io.BytesIO()
    pq.write_table(to_table(block, 0, schema), buf, **_writer_options())
    return buf.tell() / CHUNK_ROWS


class _Progress:
    """One line on stderr every 10 s: readable in a terminal and in the logs of a Job or CI alike."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self._last = total, 0, time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        if time.monotonic() - self._last >= 10 or self.done == self.total:
            self._last = time.monotonic()
            print(f"  {self.done:,}/{self.total:,} rows ({100 * self.done / self.total:.0f}%)", file=sys.stderr, flush=True)


def generate(copula: Copula, rows: int, out: Path, files: int = 1, row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
             seed: int = 0, overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Write `rows` rows into `files` Parquet files under `out`; returns a summary (sizes, speed)."""
    if rows < 1 or files < 1 or row_group_rows < 1:
        raise ValueError("rows, files and row_group_rows must be positive")
    if files > rows:
        raise ValueError(f"{files} files for {rows} rows: some would be empty")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    old = sorted(out.glob("part-*.parquet"))
    if old and not overwrite:
        raise FileExistsError(f"{out} already holds {len(old)} part files (--overwrite replaces them)")
    for path in old:
        path.unlink()
    per_row = estimate_bytes_per_row(copula, seed)
    estimate = per_row * rows
    free = shutil.disk_usage(out).free
    if estimate > 0.9 * free:
        raise OSError(f"about {estimate / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free under {out}")
    if progress:
        print(f"{rows:,} rows into {files} file(s) under {out}: about {estimate / 1e9:.2f} GB "
              f"({per_row:.1f} MB per million rows, {COMPRESSION})", file=sys.stderr, flush=True)
    schema = arrow_schema().with_metadata({
        "synthetic_portfolio": json.dumps({"format": FORMAT, "params_sha256": copula.sha256, "seed": seed, "rows": rows}),
    })
    bar = _Progress(rows) if progress else None
    began = time.perf_counter()
    paths = []
    for f, (lo, hi) in enumerate(file_ranges(rows, files)):
        path = out / f"part-{f:05d}.parquet"
        source = _RowSource(copula, seed, lo, hi)
        with pq.ParquetWriter(path, schema, **_writer_options()) as writer:
            for start in range(lo, hi, row_group_rows):
                n = min(row_group_rows, hi - start)
                writer.write_table(to_table(source.take(n), start, schema), row_group_size=n)
                if bar is not None:
                    bar.update(n)
        paths.append(path)
    seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in paths)
    summary = {
        "rows": rows, "files": files, "row_group_rows": row_group_rows, "seed": seed, "out": str(out),
        "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds), "bytes": size,
        "mb_per_million_rows": round(size / rows, 2), "gb_for_50m_rows": round(size / rows * 50e6 / 1e9, 2),
        "params_sha256": copula.sha256,
    }
    (out / "_README.md").write_text(_folder_readme(copula, summary))
    return summary


def _folder_readme(copula: Copula, summary: dict[str, Any]) -> str:
    prov = copula.params["provenance"]
    return (
        "# Synthetic GMSC-like credit portfolio\n\n"
        f"Made by `python -m benchmarks.synthetic_portfolio --rows {summary['rows']} --out DIR --files "
        f"{summary['files']} --row-group-rows {summary['row_group_rows']} --seed {summary['seed']}` "
        f"from parameters sha256 {copula.sha256} (a Gaussian copula fitted to {prov['source']}, "
        f"{prov['rows']:,} rows, sha256 {prov['source_sha256']}, on {prov['fitted']}).\n\n"
        "Synthetic data: no row describes a real person. Columns: id (global row number from 1), "
        "SeriousDlqin2yrs, the 10 GMSC features; missing MonthlyIncome and NumberOfDependents are "
        "Parquet nulls. The model: `python -m benchmarks.synthetic_portfolio --help`.\n"
    )


# --- fitting ----------------------------------------------------------------------------------


def read_gmsc(path: Path) -> Any:
    """GMSC's training CSV as a DataFrame with `id`, the target and the 10 features (float64)."""
    import pandas as pd

    frame = pd.read_csv(path)
    first = frame.columns[0]
    if first != ID and (first == "" or first.startswith("Unnamed")):
        frame = frame.rename(columns={first: ID})  # Kaggle's cs-training.csv has an unnamed index
    missing = [c for c in (TARGET, *FEATURES) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}")
    return frame[[TARGET, *FEATURES]].astype(np.float64)


def indicators_of(frame: Any) -> dict[str, np.ndarray]:
    """The three regime indicators of GMSC rows."""
    codes = frame[list(PAST_DUE)].to_numpy()
    sentinel = (codes.min(axis=1) == codes.max(axis=1)) & (codes[:, 0] >= SENTINEL_MIN)
    return {
        INCOME_MISSING: frame["MonthlyIncome"].isna().to_numpy(dtype=np.float64),
        DEPENDENTS_MISSING: frame["NumberOfDependents"].isna().to_numpy(dtype=np.float64),
        PAST_DUE_CODE: np.where(sentinel, codes[:, 0], 0.0),
    }


def fit_marginals(values: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per latent column: its indicator (if any) and one table per state of that indicator."""
    out: dict[str, Any] = {}
    for name in LATENT:
        x = values[name]
        if name not in REGIMES:
            out[name] = {"regime": None, "tables": {"all": marginal_table(x)}}
            continue
        indicator, role = REGIMES[name]
        state = values[indicator]
        tables = {}
        for s in np.unique(state):
            key = str(int(s))
            if role == "missing" and s == 1:
                tables[key] = {"kind": "missing"}
            elif role == "code" and s != 0:
                tables[key] = {"kind": "constant", "value": int(s)}
            else:
                tables[key] = marginal_table(x[state == s])
        out[name] = {"regime": indicator, "tables": tables}
    return out


def normal_scores(values: dict[str, np.ndarray], marginals: dict[str, Any]) -> np.ndarray:
    """rows x LATENT normal scores Phi^-1((midrank - 1/2) / n), ranked within each regime state
    that has a real marginal; NaN where the value is missing or set by a code."""
    n = len(values[TARGET])
    scores = np.full((n, len(LATENT)), np.nan)
    for j, name in enumerate(LATENT):
        m = marginals[name]
        x = values[name]
        state = values[m["regime"]] if m["regime"] else np.zeros(n)
        for key, table in m["tables"].items():
            rows = np.flatnonzero(state == (0.0 if key == "all" else float(key)))
            if table["kind"] in ("missing", "constant") or rows.size < 2:
                continue
            r = rankdata(x[rows], method="average")
            scores[rows, j] = ndtri((r - 0.5) / rows.size)
    return scores


def pairwise_correlation(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation over the rows where both columns have a score, and which pairs have
    one at all (both columns vary there)."""
    have = ~np.isnan(scores)
    x = np.where(have, scores, 0.0)
    m = have.astype(np.float64)
    n = m.T @ m
    sx = x.T @ m  # sum of column i over rows where j is present
    sxx = (x * x).T @ m
    sxy = x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        var_i = n * sxx - sx * sx
        cov = n * sxy - sx * sx.T
        corr = cov / np.sqrt(var_i * var_i.T)
    defined = (n > 10) & (var_i > 1e-9 * n * n) & (var_i.T > 1e-9 * n * n)
    corr = np.where(defined, corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return corr, defined


def nearest_correlation(a: np.ndarray, fixed_zero: np.ndarray, min_eig: float = 1e-4, rounds: int = 50) -> np.ndarray:
    """A positive definite correlation matrix near a, with the structurally undefined pairs at 0
    (alternating projections, Higham 2002, without his correction term: close enough here)."""
    r = (a + a.T) / 2
    for _ in range(rounds):
        r = np.where(fixed_zero, 0.0, r)
        np.fill_diagonal(r, 1.0)
        w, v = np.linalg.eigh(r)
        if w.min() >= min_eig and not np.any(np.abs(r[fixed_zero]) > 1e-12):
            break
        r = (v * np.maximum(w, min_eig)) @ v.T
        d = np.sqrt(np.diag(r))
        r = r / np.outer(d, d)
    r = np.where(fixed_zero, 0.0, r)
    np.fill_diagonal(r, 1.0)
    np.linalg.cholesky(r)  # raises if the projection failed
    return r


def calibrate(marginals: dict[str, Any], target: np.ndarray, defined: np.ndarray, rows: int = CALIBRATION_ROWS,
              steps: int = 15, tol: float = 0.002) -> tuple[np.ndarray, list[float]]:
    """Latent R whose simulated normal-score correlations match `target` (GMSC's): R += target -
    simulated, on one fixed simulated sample (common random numbers keep the steps smooth)."""
    fixed_zero = ~defined
    np.fill_diagonal(fixed_zero, False)
    # The sentinel's pairs stay at their normal-score correlation: in GMSC a 0.18% event that comes
    # with utilisation 1.0 and no open lines is beyond a Gaussian copula, and chasing it drove R to
    # singular (and distorted every other pair on the way).
    steered = defined.copy()
    steered[LATENT.index(PAST_DUE_CODE), :] = steered[:, LATENT.index(PAST_DUE_CODE)] = False
    r = nearest_correlation(target, fixed_zero)
    z = np.random.default_rng(CALIBRATION_SEED).standard_normal((rows, len(LATENT)))
    history = []
    for _ in range(steps):
        copula = Copula({"format": FORMAT, "latent": list(LATENT), "levels": len(LEVELS), "marginals": marginals,
                         "correlation": r.tolist()}, np.linalg.cholesky(r), "")
        values = latent_values(copula, ndtr(correlate(z, copula.cholesky)))
        simulated, _ = pairwise_correlation(normal_scores(values, marginals))
        gap = np.where(steered, target - simulated, 0.0)
        history.append(float(np.abs(gap).max()))
        if history[-1] < tol:
            break
        r = nearest_correlation(r + gap, fixed_zero)
    return r, history


def fit(path: Path, calibration_rows: int = CALIBRATION_ROWS) -> dict[str, Any]:
    """The copula's parameters from a GMSC-format CSV, with provenance."""
    raw = Path(path).read_bytes()
    frame = read_gmsc(path)
    values = {name: frame[name].to_numpy() for name in (TARGET, *FEATURES)} | indicators_of(frame)
    marginals = fit_marginals(values)
    target, defined = pairwise_correlation(normal_scores(values, marginals))
    r, history = calibrate(marginals, target, defined, calibration_rows)
    # what --check compares a synthetic set with when the GMSC file is absent
    ref = {**summarize(frame), "hgb_auc": quick_model_auc(frame)}
    return {
        "format": FORMAT,
        "provenance": {
            "source": Path(path).name,
            "source_sha256": hashlib.sha256(raw).hexdigest(),
            "rows": int(len(frame)),
            "fitted": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "by": "python -m benchmarks.synthetic_portfolio --fit",
            "numpy": np.__version__,
            "calibration": {"rows": calibration_rows, "seed": CALIBRATION_SEED,
                            "max_gap_per_step": [round(h, 5) for h in history]},
        },
        "latent": list(LATENT),
        "levels": len(LEVELS),
        "level_grid": "0, 0.001, ..., 1 plus 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4 and one minus those",
        "marginals": marginals,
        "correlation": [[round(float(v), 6) for v in row] for row in r],
        "normal_score_correlation": [[round(float(v), 6) for v in row] for row in target],
        "reference": ref,
    }


def dump_params(params: dict[str, Any], path: Path) -> None:
    """JSON with every list of numbers on one line: small, and diffs stay readable."""
    text = json.dumps(params, indent=1)
    text = re.sub(r"\[\s*([-0-9.eE+,\s]+?)\s*\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1).strip()) + "]", text)
    Path(path).write_text(text + "\n")


# --- validation ---------------------------------------------------------------------------------


def read_dataset(folder: Path, rows: int = CHECK_ROWS) -> Any:
    """The first `rows` rows of a generated folder (file order), as a DataFrame."""
    paths = sorted(Path(folder).glob("part-*.parquet"))
    if not paths:
        raise FileNotFoundError(f"no part-*.parquet under {folder}")
    batches, have = [], 0
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
            batches.append(batch.slice(0, rows - have))
            have += batches[-1].num_rows
            if have >= rows:
                break
        if have >= rows:
            break
    return pa.Table.from_batches(batches).to_pandas()


def _auc(y: np.ndarray, x: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    # missing below every value: both sets are treated alike, and missingness counts as signal
    return float(roc_auc_score(y, np.where(np.isnan(x), -1.0, x)))


def summarize(frame: Any) -> dict[str, Any]:
    """Default rate, missing rates, quantiles, Spearman matrix and univariate AUCs of a frame."""
    y = frame[TARGET].to_numpy(dtype=np.float64)
    cols = [TARGET, *FEATURES]
    spearman = frame[cols].astype(np.float64).corr(method="spearman")
    return {
        "rows": int(len(frame)),
        "default_rate": round(float(y.mean()), 6),
        "missing_rate": {c: round(float(frame[c].isna().mean()), 6) for c in FEATURES},
        "quantiles": {c: [_sig(float(v), 6) for v in frame[c].dropna().quantile(list(QUANTILES))] for c in FEATURES},
        "mean": {c: _sig(float(frame[c].mean()), 6) for c in FEATURES},
        "sentinel_rate": round(float((indicators_of(frame)[PAST_DUE_CODE] > 0).mean()), 6),
        "spearman": [[round(float(v), 4) for v in row] for row in spearman.to_numpy()],
        "univariate_auc": {c: round(_auc(y, frame[c].to_numpy(dtype=np.float64)), 4) for c in FEATURES},
    }


def quick_model_auc(train: Any, test: Any | None = None, seed: int = 0) -> float:
    """HistGradientBoosting (defaults) AUC: fitted on 70% of `train`, scored on the other 30%,
    or on all of `test` when given (train on synthetic, test on real)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x, y = train[list(FEATURES)].astype(np.float64), train[TARGET].to_numpy()
    if test is None:
        x, xt, y, yt = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    else:
        xt, yt = test[list(FEATURES)].astype(np.float64), test[TARGET].to_numpy()
    model = HistGradientBoostingClassifier(random_state=seed).fit(x, y)
    return round(float(roc_auc_score(yt, model.predict_proba(xt)[:, 1])), 4)


def compare(synthetic: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """Differences of two summaries; the Spearman gap names its pair."""
    a, b = np.asarray(synthetic["spearman"]), np.asarray(reference["spearman"])
    gap = np.abs(a - b)
    i, j = np.unravel_index(np.argmax(gap), gap.shape)
    cols = [TARGET, *FEATURES]
    return {
        "default_rate": [synthetic["default_rate"], reference["default_rate"]],
        "missing_rate": {c: [synthetic["missing_rate"][c], reference["missing_rate"][c]] for c in FEATURES},
        "sentinel_rate": [synthetic["sentinel_rate"], reference["sentinel_rate"]],
        "spearman_max_abs_diff": round(float(gap.max()), 4),
        "spearman_max_pair": [cols[i], cols[j]],
        "spearman_mean_abs_diff": round(float(gap[np.triu_indices_from(gap, 1)].mean()), 4),
        "univariate_auc": {c: [synthetic["univariate_auc"][c], reference["univariate_auc"][c]] for c in FEATURES},
        "quantiles": {c: [synthetic["quantiles"][c], reference["quantiles"][c]] for c in FEATURES},
        "mean": {c: [synthetic["mean"][c], reference["mean"][c]] for c in FEATURES},
    }


def check(folder: Path, copula: Copula, gmsc: Path | None = None, rows: int = CHECK_ROWS, model: bool = True) -> dict[str, Any]:
    """The first `rows` generated rows against GMSC (the file when given, else the figures stored
    with the parameters); `model` adds the quick-model AUCs."""
    frame = read_dataset(folder, rows)
    synthetic = summarize(frame)
    real = read_gmsc(gmsc) if gmsc is not None else None
    reference = summarize(real) if real is not None else copula.params["reference"]
    result = {"rows": synthetic["rows"], "reference": "gmsc file" if real is not None else "stored in params",
              **compare(synthetic, reference)}
    if model:
        result["hgb_auc_synthetic_on_synthetic"] = quick_model_auc(frame)
        if real is not None:
            result["hgb_auc_gmsc_on_gmsc"] = quick_model_auc(real)
            result["hgb_auc_synthetic_on_gmsc"] = quick_model_auc(frame, real)
    return result


def format_check(result: dict[str, Any]) -> str:
    lines = [f"check: {result['rows']:,} synthetic rows vs GMSC ({result['reference']}); pairs are synthetic / GMSC",
             f"  default rate           {result['default_rate'][0]:.4f} / {result['default_rate'][1]:.4f}",
             f"  sentinel (96/98) rows  {result['sentinel_rate'][0]:.4f} / {result['sentinel_rate'][1]:.4f}",
             f"  Spearman max |diff|    {result['spearman_max_abs_diff']:.4f} ({' vs '.join(result['spearman_max_pair'])}),"
             f" mean {result['spearman_mean_abs_diff']:.4f}"]
    for key in ("hgb_auc_synthetic_on_synthetic", "hgb_auc_gmsc_on_gmsc", "hgb_auc_synthetic_on_gmsc"):
        if key in result:
            lines.append(f"  {key:<33} {result[key]:.4f}")
    lines.append(f"  {'column':<38} {'missing':>15} {'univariate AUC':>15}  quantiles {list(QUANTILES)}")
    for c in FEATURES:
        ms, mr = result["missing_rate"][c]
        us, ur = result["univariate_auc"][c]
        qs, qr = result["quantiles"][c]
        lines.append(f"  {c:<38} {ms:.4f}/{mr:.4f}   {us:.4f}/{ur:.4f}  {[_sig(v, 4) for v in qs]}")
        lines.append(f"  {'':<38} {'':>15} {'':>15}  {[_sig(v, 4) for v in qr]}")
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.synthetic_portfolio", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rows", type=int, help="generate this many rows (needs --out)")
    mode.add_argument("--fit", type=Path, metavar="GMSC_CSV", help="fit the parameters to a GMSC-format CSV (needs --params)")
    mode.add_argument("--check", type=Path, metavar="DIR", help="compare a generated folder with GMSC")
    p.add_argument("--out", type=Path, help="output folder of the Parquet files")
    p.add_argument("--files", type=int, default=1, help="number of Parquet files (default 1)")
    p.add_argument("--row-group-rows", type=int, default=DEFAULT_ROW_GROUP_ROWS, help=f"rows per row group (default {DEFAULT_ROW_GROUP_ROWS})")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--params", type=Path, default=None, help=f"parameter file to read, or with --fit to write (default {DEFAULT_PARAMS.name})")
    p.add_argument("--overwrite", action="store_true", help="replace part files already in --out")
    p.add_argument("--gmsc", type=Path, default=None, help="GMSC CSV to compare with (--check, or after generating)")
    p.add_argument("--check-rows", type=int, default=CHECK_ROWS, help=f"rows compared by the check (default {CHECK_ROWS:,})")
    p.add_argument("--no-model", action="store_true", help="check without the quick-model AUCs")
    args = p.parse_args(argv)
    if args.rows is not None:
        if args.out is None:
            p.error("--rows needs --out")
        if args.rows < 1 or args.files < 1 or args.row_group_rows < 1:
            p.error("--rows, --files and --row-group-rows must be positive")
        if args.files > args.rows:
            p.error(f"--files {args.files} for {args.rows} rows: some files would be empty")
    if args.fit is not None and args.params is None:
        p.error("--fit needs --params (the file to write)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.fit is not None:
        began = time.perf_counter()
        params = fit(args.fit)
        dump_params(params, args.params)
        steps = params["provenance"]["calibration"]["max_gap_per_step"]
        print(f"fitted {params['provenance']['rows']:,} rows in {time.perf_counter() - began:.1f} s; calibration "
              f"gap per step {steps}; wrote {args.params} ({args.params.stat().st_size / 1024:.1f} KiB)")
        return 0
    copula = load_params(args.params or DEFAULT_PARAMS)
    try:
        return _generate_and_check(copula, args)
    except (ValueError, OSError) as e:  # an existing folder, a full disk, no data to check: say so, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2


def _generate_and_check(copula: Copula, args: argparse.Namespace) -> int:
    summary: dict[str, Any] = {}
    if args.rows is not None:
        summary = generate(copula, args.rows, args.out, args.files, args.row_group_rows, args.seed, args.overwrite)
        print(f"wrote {summary['rows']:,} rows in {summary['files']} file(s) to {summary['out']} in "
              f"{summary['seconds']:.1f} s: {summary['rows_per_second']:,} rows/s, {summary['bytes'] / 1e6:.1f} MB "
              f"({summary['mb_per_million_rows']:.1f} MB per million rows; 50M rows about {summary['gb_for_50m_rows']:.1f} GB)")
    folder = args.check if args.check is not None else (args.out if args.gmsc is not None else None)
    if folder is not None:
        result = check(folder, copula, args.gmsc, args.check_rows, model=not args.no_model)
        print(format_check(result))
        summary = {**summary, "check": result} if summary else result
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
