"""`python -m training_job --config FILE [--tracking-uri URI] [--data PATH] [--experiment NAME]`"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from training_job.config import ConfigError, load_config
from training_job.data import DataError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training_job", description="Train, evaluate, export and register a credit-risk network.")
    p.add_argument("--config", required=True, help="YAML config (config/models-configs/model_config_NNN.yaml)")
    p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                   help="MLflow tracking server (default $MLFLOW_TRACKING_URI); without one, only export locally")
    p.add_argument("--data", default=os.environ.get("TRAINING_DATA"), help="data file overriding data.path (default $TRAINING_DATA)")
    p.add_argument("--experiment", default=os.environ.get("MLFLOW_EXPERIMENT_NAME"), help="MLflow experiment (default registry.experiment)")
    p.add_argument("--output-dir", type=Path, help="also keep the exported artifact here (runs without MLflow)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override a config field, e.g. --set optimisation.epochs=5 (repeatable)")
    p.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    if m:
        print("test split   " + "  ".join(f"{k[5:]} {m[k]:.4f}" for k in ("test_auc", "test_gini", "test_ks", "test_brier", "test_log_loss", "test_ece") if k in m))
    if result.seconds:
        print(f"wall time    {result.seconds:.1f} s")
    if args.tracking_uri and result.run_id:
        print(f"look at      {args.tracking_uri.rstrip('/')}/#/models/{cfg.registry.model_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
