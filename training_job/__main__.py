"""`python -m training_job --config FILE [--tracking-uri URI] [--data PATH] [--experiment NAME]`
(each also from the environment: training_job/settings.py)"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from training_job.config import ConfigError, load_config
from training_job.data import DataError
from training_job.settings import parse_settings


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_settings(argv)
    except ValidationError as e:
        print(f"error: invalid training settings:\n{e}", file=sys.stderr)
        return 2
    # under torchrun the other ranks only train: rank 0 speaks for the job
    level = args.log_level.upper() if os.environ.get("RANK", "0") == "0" else "WARNING"
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("urllib3", "matplotlib", "alembic", "mlflow.models.model"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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


if __name__ == "__main__":
    sys.exit(main())
