"""`python -m training_job tune`: an Optuna search over the network and optimisation settings.

Every trial is the training job's own fit (`training_job.pipeline.fit_model`) of a sampled config
(training_job/search_space.py), scored by the AUC of the fitted model (ensemble, age policy and all)
on validation rows: by default the training job's own validation split, with `folds` the mean over
K stratified folds of the non-test rows. The test split is never read, so a tuned config can be
judged on it afterwards by the training job (`python -m training_job --config TUNED.yaml`).

Pruning: each epoch of the first fold reports the best validation AUC so far to the trial, and
the pruner (MedianPruner by default) stops a trial below the median of the earlier trials at the
same epoch. Sampling is TPE with a seed; the training seeds come from the config, so the same
seed, data and config on one thread give the same trials.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np
import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

from training_job.config import EMBEDDED_PREFIX, SplitConfig, TrainConfig, apply_overrides, is_uri, load_config
from training_job.data import Dataset
from training_job.pipeline import fit_model, split_indices
from training_job.search_space import SearchSpace, merge, sampled_config, suggest
from training_job.train import EpochCallback

log = logging.getLogger(__name__)

CONFIG_ATTR = "config"
"""Trial user attribute: the sampled values by config path (what the tuned YAML takes)."""
PRUNER_STARTUP_TRIALS = 3
"""MedianPruner: completed trials before any trial is pruned."""
PRUNE_FROM_EPOCH = 5
"""MedianPruner: the first epoch at which a trial may be pruned (the first epochs' AUC is noise)."""


class NoTrialCompleted(RuntimeError):
    """Every trial of the budget was pruned or failed: there is no best config to write."""


class FitFailed(RuntimeError):
    """A sampled config that trains but diverges (a NaN validation score): the trial fails, the study goes on."""


@dataclass
class TuneResult:
    best_number: int
    best_value: float
    best_values: dict[str, Any]
    """The best trial's sample by config path."""
    best_config: TrainConfig
    complete: int
    pruned: int
    failed: int
    seconds: float
    objective: str
    """What the value is: "validation AUC (the training job's validation split)" or the K-fold mean."""

    @property
    def trials(self) -> int:
        return self.complete + self.pruned + self.failed


class StudyTracker(Protocol):
    """Where the trials go as they finish (training_job/tune_tracking.py logs them to MLflow)."""

    def trial(self, trial: FrozenTrial) -> None: ...


class NullStudyTracker:
    def trial(self, trial: FrozenTrial) -> None:
        pass


def tuning_folds(y: np.ndarray, split: SplitConfig, folds: int | None,
                 ids: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) row indices of each fold, all drawn from the non-test rows of the
    training job's split (`split_indices`): without `folds` its own train and validation split."""
    train, val, _test = split_indices(y, split, ids)  # the test rows stay out of every fold
    if folds is None:
        return [(train, val)]
    rest = np.sort(np.concatenate([train, val]))
    splitter = (StratifiedKFold if split.stratified else KFold)(n_splits=folds, shuffle=True, random_state=split.seed)
    return [(rest[a], rest[b]) for a, b in splitter.split(rest, y[rest])]


def pruning_callback(trial: optuna.Trial) -> EpochCallback:
    """The fit path's epoch callback reporting the best validation AUC so far (the value early
    stopping keeps) at each epoch, and stopping the fit when the pruner says so."""
    best = -math.inf

    def on_epoch(epoch: int, row: dict[str, float]) -> None:
        nonlocal best
        best = max(best, row["val_auc"])
        trial.report(best, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"epoch {epoch}: best validation AUC so far {best:.4f}")

    return on_epoch


def make_objective(ds: Dataset, base: TrainConfig, folds: list[tuple[np.ndarray, np.ndarray]], space: SearchSpace):
    def objective(trial: optuna.Trial) -> float:
        values = suggest(trial, space)
        trial.set_user_attr(CONFIG_ATTR, values)
        cfg = sampled_config(base, values)  # a ConfigError here is a search-space bug: it stops the study
        aucs = []
        for k, (train_rows, val_rows) in enumerate(folds):
            try:
                fitted = fit_model(ds.frame, ds.target, train_rows, val_rows, cfg,
                                   pruning_callback(trial) if k == 0 else None)
                assert fitted is not None  # one process: always rank 0
                auc = float(roc_auc_score(ds.target[val_rows], fitted.logits(ds.frame.iloc[val_rows])))
            except ValueError as e:  # sklearn refuses NaN scores: the network diverged
                trial.set_user_attr("failure", f"fold {k + 1}: {e}")
                raise FitFailed(f"fold {k + 1}: {e}") from e
            aucs.append(auc)
        trial.set_user_attr("fold_aucs", aucs)
        return float(np.mean(aucs))

    return objective


def short(values: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v).replace(" ", "")
    return " ".join(f"{k.rsplit('.', 1)[-1]}={fmt(v)}" for k, v in values.items())


def progress_line(trial: FrozenTrial, study: optuna.Study, total: int | None) -> str:
    number = f"[{trial.number + 1}{f'/{total}' if total else ''}] trial {trial.number}"
    seconds = (trial.duration.total_seconds() if trial.duration else 0.0)
    if trial.state == TrialState.COMPLETE:
        what = f"complete  value {trial.value:.4f}"
    elif trial.state == TrialState.PRUNED:
        step = trial.last_step
        what = f"pruned at epoch {step} ({trial.intermediate_values[step]:.4f})" if step is not None else "pruned"
    else:
        what = f"failed: {trial.user_attrs.get('failure', trial.state.name.lower())}"
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    best = max(done, key=lambda t: t.value) if done else None
    best_text = f"best {best.value:.4f} (trial {best.number})" if best else "best -"
    return f"{number} {what}  {best_text}  {seconds:.1f} s  {short(trial.user_attrs.get(CONFIG_ATTR, {}))}"


def run_study(ds: Dataset, base: TrainConfig, *, budget_seconds: float, trials: int | None = None, seed: int = 0,
              folds: int | None = None, tracker: StudyTracker | None = None,
              pruner: optuna.pruners.BasePruner | None = None, space: SearchSpace | None = None,
              progress: TextIO = sys.stderr) -> TuneResult:
    """Search until `trials` have run or `budget_seconds` have passed (no trial starts after it;
    the one running finishes). Raises ValueError if no trial completed."""
    space = space or SearchSpace.for_config(base)
    tracker = tracker or NullStudyTracker()
    splits = tuning_folds(ds.target, base.split, folds, ds.ids)
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                                   n_warmup_steps=PRUNE_FROM_EPOCH)

    def finished(study: optuna.Study, trial: FrozenTrial) -> None:
        print(progress_line(trial, study, trials), file=progress, flush=True)
        tracker.trial(trial)

    started = time.perf_counter()
    with _quiet_optuna():
        with warnings.catch_warnings():
            # `group` (TPE over the conditional numeric-embedding space) is marked experimental
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=seed, group=True)
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        study.optimize(make_objective(ds, base, splits, space), n_trials=trials, timeout=budget_seconds,
                       catch=(FitFailed,), callbacks=[finished])
    seconds = time.perf_counter() - started
    counts = {s: len(study.get_trials(deepcopy=False, states=(s,))) for s in (TrialState.COMPLETE, TrialState.PRUNED,
                                                                               TrialState.FAIL)}
    if not counts[TrialState.COMPLETE]:
        raise NoTrialCompleted(f"no trial completed within the budget ({counts[TrialState.PRUNED]} pruned, "
                         f"{counts[TrialState.FAIL]} failed): give it more minutes")
    best = study.best_trial
    values = best.user_attrs[CONFIG_ATTR]
    objective = (f"mean validation AUC over {folds} folds of the non-test rows" if folds
                 else "validation AUC on the training job's validation split")
    return TuneResult(best_number=best.number, best_value=float(best.value), best_values=values,
                      best_config=sampled_config(base, values), complete=counts[TrialState.COMPLETE],
                      pruned=counts[TrialState.PRUNED], failed=counts[TrialState.FAIL], seconds=seconds,
                      objective=objective)


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial at INFO; the progress lines say it once, on our terms."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def default_output(config_path: Path) -> Path:
    """`<config stem>-tuned.yaml` in the current directory."""
    return Path(f"{Path(config_path).stem}-tuned.yaml")


def tuned_yaml(config_path: Path, overrides: list[str], result: TuneResult, output: Path, header: list[str]) -> str:
    """The original YAML (with the `--set` overrides) and the best values merged in: a config
    for `python -m training_job --config`. A relative data path is rewritten relative to the output's
    folder, so it names the same file from there. YAML comments of the original are not kept."""
    raw = apply_overrides(yaml.safe_load(Path(config_path).read_text()), list(overrides))
    raw = merge(raw, result.best_values)
    path = raw.get("data", {}).get("path")
    if isinstance(path, str) and not path.startswith(EMBEDDED_PREFIX) and not is_uri(path) and not Path(path).is_absolute():
        target = (Path(config_path).parent / path).resolve()
        raw["data"]["path"] = os.path.relpath(target, Path(output).resolve().parent)
    body = yaml.dump(raw, Dumper=_Dumper, sort_keys=False, width=100)
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + body


class _Dumper(yaml.SafeDumper):
    """Block mappings, lists of scalars on one line (`hidden_sizes: [64, 32]`), as the configs are written."""


def _list(dumper: yaml.SafeDumper, items: list) -> yaml.Node:
    flat = all(not isinstance(i, (dict, list)) for i in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flat)


_Dumper.add_representer(list, _list)


def write_tuned_config(output: Path, text: str) -> TrainConfig:
    """Write the tuned YAML and read it back as the training job would (a ConfigError if it cannot)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return load_config(output)


def header_lines(config_path: Path, data_source: str, seed: int, result: TuneResult, overrides: list[str]) -> list[str]:
    lines = [
        f"Tuned by `python -m training_job tune` from {config_path} (data {data_source}, sampler seed {seed}).",
        f"{result.trials} trials in {result.seconds / 60:.1f} min: {result.complete} complete, {result.pruned} pruned, "
        f"{result.failed} failed.",
        f"Best: trial {result.best_number}, {result.objective} {result.best_value:.4f}.",
        "The test split was not used: judge this config on it with `python -m training_job --config <this file>`.",
    ]
    if overrides:
        lines.append("Overrides of the original: " + " ".join(f"--set {o}" for o in overrides))
    lines.append("Comments of the original config are not carried over.")
    return lines


def tune_job(ds: Dataset, cfg: TrainConfig, *, data_label: str, config_path: Path, overrides: list[str],
             output: Path, seed: int, budget_seconds: float, trials: int | None = None, folds: int | None = None,
             tracking_uri: str | None = None, experiment: str | None = None,
             pruner: optuna.pruners.BasePruner | None = None) -> tuple[TuneResult, str | None]:
    """The search, then the tuned config written to `output` and read back as the training job
    reads it (`data_label` names the data in its header); with MLflow tracking when `tracking_uri`
    is given. Returns the result and the parent run id (None without tracking)."""
    study = dict(budget_seconds=budget_seconds, trials=trials, seed=seed, folds=folds, pruner=pruner)

    def write(result: TuneResult) -> str:
        text = tuned_yaml(config_path, overrides, result, output,
                          header_lines(config_path, data_label, seed, result, overrides))
        write_tuned_config(output, text)
        return text

    if not tracking_uri:
        result = run_study(ds, cfg, **study)
        write(result)
        return result, None
    from training_job.tune_tracking import mlflow_study

    params = {"config_file": str(config_path), "seed": seed, "budget_minutes": budget_seconds / 60, "trials": trials,
              "folds": folds, "overrides": overrides, "sampler": "TPESampler(group=True)",
              "pruner": type(pruner).__name__ if pruner else "MedianPruner"}
    with mlflow_study(tracking_uri, experiment or f"{cfg.registry.experiment}-tuning", f"tune-{Path(config_path).stem}",
                      params, {"data_source": ds.source, "data_digest": ds.digest}) as tracker:
        result = run_study(ds, cfg, tracker=tracker, **study)
        tracker.finish(result, write(result), Path(output).name)
    return result, tracker.parent_run_id
