"""`python -m training_job --config FILE [--tracking-uri URI] [--data PATH] [--experiment NAME]`
(each also from the environment: training_job/settings.py), and
`python -m training_job tune --config FILE --budget-minutes N [...]`, the hyperparameter search
(training_job/tune.py)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from training_job.config import ConfigError, load_config
from training_job.data import DataError
from training_job.settings import parse_settings, parse_tune_settings

TUNE = "tune"


def _logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("urllib3", "matplotlib", "alembic", "mlflow.models.model"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == [TUNE]:
        return tune_main(words[1:])
    try:
        args = parse_settings(argv)
    except ValidationError as e:
        print(f"error: invalid training settings:\n{e}", file=sys.stderr)
        return 2
    # under torchrun the other ranks only train: rank 0 speaks for the job
    _logging(args.log_level.upper() if os.environ.get("RANK", "0") == "0" else "WARNING")
    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from training_job.job import run_job  # heavy imports only once the config is known good

    try:
        result = run_job(cfg, args.data, args.tracking_uri, args.experiment, args.output_dir, Path(args.config).name)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not result.main:
        return 0
    m = result.metrics
    print()
    print(f"model        {cfg.registry.model_name}")
    if result.reused:
        print(f"reused       version {result.version} already holds this config and data: nothing registered")
    if result.run_id:
        print(f"run id       {result.run_id}")
        print(f"version      {result.version}  aliases: {', '.join(result.aliases) or '-'}")
        print(f"gate         {result.gate}")
    if result.artifact_dir:
        print(f"artifact     {result.artifact_dir}")
    if result.artifact_digest:
        print(f"digest       sha256:{result.artifact_digest}")
    if result.processes > 1:
        print(f"processes    {result.processes} (torchrun, DistributedDataParallel)")
    if m:
        print("test split   " + "  ".join(f"{k[5:]} {m[k]:.4f}" for k in ("test_auc", "test_gini", "test_ks", "test_brier", "test_log_loss", "test_ece") if k in m))
    if result.fairness is not None:
        for name in result.fairness.attributes:
            groups = [g for g in result.fairness.groups if g["attribute"] == name]
            print(f"fairness     {name}: " + "; ".join(
                f"{g['group']} AIR {g['air']:.3f} (n={g['rows']}{', small: not counted' if g['small'] else ''})"
                for g in groups))
        worst, where = result.fairness.min_air, result.fairness.worst()
        interval = result.fairness.attributes[where[0]] if where else {}
        ci = f" [{interval['min_air_low']:.3f}, {interval['min_air_high']:.3f}]" if "min_air_low" in interval else ""
        print(f"min AIR      {'-' if worst is None else format(worst, '.3f')}{ci} (four-fifths threshold "
              f"{result.fairness.air_threshold:g})")
    if result.seconds:
        print(f"wall time    {result.seconds:.1f} s")
    if args.tracking_uri and result.run_id:
        print(f"look at      {args.tracking_uri.rstrip('/')}/#/models/{cfg.registry.model_name}")
    return 0


def _flag_errors(e: ValidationError) -> str:
    """`--budget-minutes: Input should be greater than 0 (got 0.0)`, one line per field."""
    lines = []
    for err in e.errors():
        name = "--" + "-".join(str(p) for p in err["loc"]).replace("_", "-")
        got = "" if err["type"] == "missing" else f" (got {err['input']!r})"
        lines.append(f"  {name}: {err['msg']}{got}")
    return "\n".join(lines)


def tune_main(argv: list[str]) -> int:
    try:
        args = parse_tune_settings(argv)
    except ValidationError as e:
        print(f"error: invalid tuning settings:\n{_flag_errors(e)}", file=sys.stderr)
        return 2
    _logging(args.log_level.upper())
    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from training_job.data import is_streamed, load_dataset  # heavy imports only once the config is known good
    from training_job.tune import NoTrialCompleted, default_output, tune_job

    source = args.data or cfg.data.path
    if is_streamed(source):
        print(f"error: --data/data.path {source}: tune searches on a table in memory (a CSV or Parquet file), "
              "not a streamed Parquet dataset; write a sample of it as one file", file=sys.stderr)
        return 2
    try:
        ds = load_dataset(cfg, args.data)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    seed = cfg.split.seed if args.seed is None else args.seed
    output = args.output or default_output(args.config)
    print(f"tuning {args.config} on {source} ({ds.rows} rows): {args.budget_minutes:g} min"
          f"{f', at most {args.trials} trials' if args.trials else ''}, seed {seed}; the test split is not used",
          file=sys.stderr)
    try:
        result, run_id = tune_job(ds, cfg, data_label=source, config_path=args.config, overrides=args.set,
                                  output=output, seed=seed, budget_seconds=args.budget_minutes * 60,
                                  trials=args.trials, folds=args.folds, tracking_uri=args.tracking_uri,
                                  experiment=args.experiment)
    except NoTrialCompleted as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print()
    print(f"trials       {result.trials} ({result.complete} complete, {result.pruned} pruned, {result.failed} failed) "
          f"in {result.seconds / 60:.1f} min")
    print(f"best         trial {result.best_number}: {result.objective} {result.best_value:.4f}")
    if run_id:
        print(f"run id       {run_id}")
    print(f"tuned config {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
