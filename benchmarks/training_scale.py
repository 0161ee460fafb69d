"""Training at scale: the streamed Parquet job on synthetic portfolios, one process against torchrun.

    python -m benchmarks.training_scale [--sizes 1000000 10000000] [--procs 1 2] [--epochs 1]
        [--data-dir /tmp/synth-bench] [--device cpu|cuda] [--set SECTION.FIELD=VALUE ...]

For each size a synthetic GMSC-like portfolio (benchmarks/synthetic_portfolio.py, seed --seed) is
generated under --data-dir, or reused when a folder of that rows and seed from the same
parameters is there. Each is trained by the real job, `python -m training_job` with config 001
split by a hash of `id`, one network (`optimisation.seeds=1`) for --epochs epochs, once per entry
of --procs: 1 is a plain process, N is `torchrun --standalone --nproc-per-node N` (DDP on gloo;
with `--device cuda` on NCCL, one GPU per process). No MLflow: the job without --tracking-uri
exports its artifact to a temporary folder and registers nothing, so only training is measured.

Per run, from the timestamps of rank 0's log lines:
- survey s: the pass over the whole data set before training (counts, ranges, the samples);
- train s: from the end of the survey to the last epoch's line: the feature spec fitted on the
  bounded sample (a few seconds whatever the size), then every epoch with its validation AUC;
- rows/s/proc: training rows each process stepped through (its full batches: every rank takes
  as many, the smallest shard's) x epochs / train s; total rows/s is the same over all processes;
- peak RSS: the largest VmHWM (the kernel's peak resident set) of any training process, read
  from /proc by psutil polling of the launched process tree every 0.2 s (the torchrun launcher
  itself is left out); memory is bounded by data.streaming, so it should not grow with rows;
- wall s: launch to exit, Python imports and export included.
"N vs 1" is total rows/s with N processes over one process's. Progress goes to stderr, a table
to stdout, and the last stdout line is one JSON object.

Defaults: 1M and 10M rows, 1 and 2 processes, 1 epoch, 8 files of 131,072-row row groups; about
15 minutes on 2 cores (10M: 4 min with one process, 5 min with two). Measured with the defaults,
`python -m benchmarks.training_scale`, on a 2-core machine other jobs shared (load average 6-11):

            rows procs  survey s  train s  rows/s/proc  rows/s total   vs 1  peak RSS MiB   wall s
       1,000,000     1       1.7     21.9       31,018        31,018      -         1,907     37.8
       1,000,000     2       1.5     25.5       13,314        26,628   0.86         1,920     44.5
      10,000,000     1       6.4    222.1       30,627        30,627      -         1,956    246.6
      10,000,000     2       5.1    278.6       11,616        23,232   0.76         1,972    318.9

Peak RSS grows 2.5% for 10x the rows (the samples are capped at 200,000 rows each; about 950 MiB
of it is the interpreter with torch, pandas and pyarrow, measured on 20,000 rows). Two processes
on two busy cores are slower in total, not faster: gloo's all-reduce after each 256-row batch
and the cores' other work. With two processes each epoch steps through 95% of the training rows
at 10M: every file's short last row group falls to rank 1, the smaller shard sets the batches.
50M rows (1.1 GB) was not run: at these rates one epoch takes about 20 minutes a run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

from benchmarks import synthetic_portfolio as portfolio
from training_job.config import TrainConfig, load_config
from training_job.data import split_id_column
from training_job.hash_split import TRAIN, assign, unit_hash
from training_job.parquet_stream import open_dataset

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "models-configs" / "model_config_001.yaml"
JOB_SETTINGS = ("split.method=hash", "split.id_column=id", "optimisation.seeds=1")
POLL_S = 0.2
_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO training_job\.(\w+): (.*)")


# --- data ----------------------------------------------------------------------------------------


def dataset(rows: int, seed: int, data_dir: Path, files: int, row_group_rows: int) -> tuple[Path, float | None]:
    """The folder of `rows` synthetic rows from `seed`, and the seconds generating it took (None: reused)."""
    copula = portfolio.load_params()
    folder = data_dir / f"rows{rows}-seed{seed}"
    first = folder / "part-00000.parquet"
    if first.exists():
        made = json.loads(pq.read_schema(first).metadata.get(b"synthetic_portfolio", b"{}"))
        if made == {"format": portfolio.FORMAT, "params_sha256": copula.sha256, "seed": seed, "rows": rows}:
            return folder, None
    print(f"generating {rows:,} rows into {folder} ...", file=sys.stderr, flush=True)
    summary = portfolio.generate(copula, rows, folder, min(files, rows), row_group_rows, seed, overwrite=True)
    return folder, summary["seconds"]


def stepped_rows(folder: Path, cfg: TrainConfig, world: int) -> int:
    """Training rows one epoch steps through on each rank: the job deals row groups round-robin,
    and every rank takes the smallest shard's number of full batches (training_job/parquet_stream.py)."""
    _, groups = open_dataset(str(folder))
    per_rank = [0] * world
    for i, group in enumerate(groups):
        ids = group.to_table(columns=[split_id_column(cfg)]).column(0).to_numpy()
        per_rank[i % world] += int((assign(unit_hash(ids, cfg.split.seed), cfg.split) == TRAIN).sum())
    batch = cfg.optimisation.batch_size // world
    return min(per_rank) // batch * batch


# --- one run -------------------------------------------------------------------------------------


def _peak_kib(process: psutil.Process) -> int:
    """The process's peak resident set so far (VmHWM), or its current one where /proc has no HWM."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return process.memory_info().rss // 1024


def _watch(proc: subprocess.Popen) -> dict[int, int]:
    """Peak KiB of every training process of the tree until `proc` exits (launcher left out)."""
    root = psutil.Process(proc.pid)
    peaks: dict[int, int] = {}
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in tree:
            try:
                cmd = " ".join(p.cmdline())
                if "training_job" in cmd and "torch.distributed.run" not in cmd:
                    peaks[p.pid] = max(peaks.get(p.pid, 0), _peak_kib(p))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        time.sleep(POLL_S)
    return peaks


def _timestamps(log: str) -> dict[str, list[float]]:
    """Epoch seconds of rank 0's survey start, survey end and epoch lines."""
    out: dict[str, list[float]] = {"survey": [], "data": [], "epoch": []}
    for stamp, module, text in _LINE.findall(log):
        t = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time, as logging writes it
        if module == "parquet_stream" and "row groups; this rank reads" in text:
            out["survey"].append(t)
        elif module == "job" and text.startswith("data "):
            out["data"].append(t)
        elif module == "train" and re.match(r"\S+ epoch \d+/\d+ ", text):
            out["epoch"].append(t)
    return out


def train_once(folder: Path, procs: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    settings = [*JOB_SETTINGS, f"optimisation.epochs={args.epochs}", f"optimisation.device={args.device}", *args.set]
    job = ["-m", "training_job", "--config", str(args.config), "--data", str(folder),
           "--output-dir", str(work / f"artifact-{folder.name}-{procs}"), "--log-level", "INFO"]
    for s in settings:
        job += ["--set", s]
    launcher = [] if procs == 1 else ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    log_path = work / f"{folder.name}-{procs}.log"
    began = time.time()
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, *launcher, *job], stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=REPO, start_new_session=True)
        peaks = _watch(proc)
    wall = time.time() - began
    log_text = log_path.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"training {folder.name} on {procs} process(es) failed ({proc.returncode}):\n{log_text[-3000:]}")
    marks = _timestamps(log_text)
    if not (marks["survey"] and marks["data"] and len(marks["epoch"]) == args.epochs):
        raise RuntimeError(f"{log_path}: rank 0's survey/data/epoch log lines not found:\n{log_text[-3000:]}")
    if len(peaks) != procs:
        raise RuntimeError(f"saw {len(peaks)} training processes, expected {procs}")
    cfg = load_config(args.config, settings)
    per_rank = stepped_rows(folder, cfg, procs) * args.epochs
    survey_s = marks["data"][0] - marks["survey"][0]
    train_s = marks["epoch"][-1] - marks["data"][0]
    return {
        "procs": procs, "wall_s": round(wall, 2), "startup_s": round(marks["survey"][0] - began, 2),
        "survey_s": round(survey_s, 2), "train_s": round(train_s, 2),
        "epoch_s": round((marks["epoch"][-1] - marks["epoch"][0]) / (args.epochs - 1), 2) if args.epochs > 1 else None,
        "rows_stepped_per_proc": per_rank, "rows_per_s_per_proc": round(per_rank / train_s),
        "rows_per_s_total": round(per_rank * procs / train_s), "peak_rss_mib_max": round(max(peaks.values()) / 1024, 1),
        "peak_rss_mib_per_proc": sorted(round(v / 1024, 1) for v in peaks.values()),
    }


# --- report --------------------------------------------------------------------------------------


def table(results: list[dict[str, Any]], procs: list[int]) -> str:
    head = (f"{'rows':>12} {'procs':>5} {'survey s':>9} {'train s':>8} {'rows/s/proc':>12} {'rows/s total':>13} "
            f"{'vs 1':>6} {'peak RSS MiB':>13} {'wall s':>8}")
    lines = [head]
    for size in results:
        for run in size["runs"]:
            ratio = size["ratios"].get(str(run["procs"]))
            lines.append(f"{size['rows']:>12,} {run['procs']:>5} {run['survey_s']:>9.1f} {run['train_s']:>8.1f} "
                         f"{run['rows_per_s_per_proc']:>12,} {run['rows_per_s_total']:>13,} "
                         f"{'-' if ratio is None else format(ratio, '.2f'):>6} {run['peak_rss_mib_max']:>13,.0f} "
                         f"{run['wall_s']:>8.1f}")
    lines.append("peak RSS per process (MiB) by size: " + "; ".join(
        f"{p} proc: " + ", ".join(f"{s['rows']:,} {r['peak_rss_mib_max']:,.0f}" for s in results
                                  for r in s["runs"] if r["procs"] == p) for p in procs))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.training_scale", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000], help="rows per data set")
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="processes per run (1 = no torchrun)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--data-dir", type=Path, default=Path("/tmp/synth-bench"),
                   help="where data sets are generated and reused (default /tmp/synth-bench)")
    p.add_argument("--files", type=int, default=8, help="Parquet files per data set (default 8)")
    p.add_argument("--row-group-rows", type=int, default=portfolio.DEFAULT_ROW_GROUP_ROWS)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cuda: NCCL, one GPU per process")
    p.add_argument("--config", type=Path, default=CONFIG)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override a config field of every run (repeatable)")
    args = p.parse_args(argv)
    if min(args.sizes) < 1 or min(args.procs) < 1 or args.epochs < 1:
        p.error("--sizes, --procs and --epochs must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        for rows in args.sizes:
            folder, gen_s = dataset(rows, args.seed, args.data_dir, args.files, args.row_group_rows)
            runs = []
            for procs in args.procs:
                print(f"training {rows:,} rows on {procs} process(es) ...", file=sys.stderr, flush=True)
                runs.append(train_once(folder, procs, args, Path(tmp)))
                print(f"  {json.dumps(runs[-1])}", file=sys.stderr, flush=True)
            one = next((r for r in runs if r["procs"] == 1), None)
            ratios = {str(r["procs"]): round(r["rows_per_s_total"] / one["rows_per_s_total"], 3)
                      for r in runs if one is not None and r is not one}
            results.append({"rows": rows, "data": str(folder), "generate_s": gen_s, "runs": runs, "ratios": ratios})
    print(table(results, args.procs))
    rss = {str(p): [r["peak_rss_mib_max"] for s in results for r in s["runs"] if r["procs"] == p] for p in args.procs}
    print(json.dumps({"epochs": args.epochs, "device": args.device, "seed": args.seed, "config": args.config.name,
                      "sizes": results, "peak_rss_mib_by_size": rss}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
