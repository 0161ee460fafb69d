"""A tuning study in MLflow: one parent run for the study, each trial a nested run under it.

Parent: the study's settings as params, the data as tags, at the end the best value, the trial
counts and the tuned config (artifact `tuned/<file>`). Trial: the sampled values as params (both
the config paths and Optuna's own names, such as `network.depth`), the objective (or, pruned, the
last reported value) as `val_auc`, the per-epoch values reported to the pruner as
`val_auc_best_so_far`, and the tag `trial.state` (complete, pruned or failed).

Through an explicit MlflowClient, not the fluent API: nothing is left in the process's MLflow state.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from optuna.trial import FrozenTrial, TrialState

from training_job.tune import CONFIG_ATTR, TuneResult

STATES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}
PARAM_CHARS = 6000


def _text(value: Any) -> str:
    return (json.dumps(value) if isinstance(value, (list, tuple)) else str(value))[:PARAM_CHARS]


@contextmanager
def _no_run_links() -> Iterator[None]:
    """MLflow prints two "View run" lines on stdout for every run it ends: for the study's parent
    (the link to look at), not for each trial."""
    name, before = MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.name, os.environ.get(MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.name)
    os.environ[name] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _ms(when) -> int | None:
    return int(when.timestamp() * 1000) if when is not None else None


class MlflowStudyTracker:
    def __init__(self, client: MlflowClient, experiment_id: str, parent_run_id: str) -> None:
        self.client, self.experiment_id, self.parent_run_id = client, experiment_id, parent_run_id

    def trial(self, trial: FrozenTrial) -> None:
        state = STATES.get(trial.state, trial.state.name.lower())
        run = self.client.create_run(self.experiment_id, start_time=_ms(trial.datetime_start),
                                     run_name=f"trial-{trial.number}",
                                     tags={MLFLOW_PARENT_RUN_ID: self.parent_run_id, "trial.number": str(trial.number),
                                           "trial.state": state})
        values = {**trial.params, **trial.user_attrs.get(CONFIG_ATTR, {})}
        params = [Param(k, _text(v)) for k, v in values.items()]
        stamp = _ms(trial.datetime_complete) or 0
        metrics = [Metric("val_auc_best_so_far", v, stamp, step) for step, v in sorted(trial.intermediate_values.items())]
        value = trial.value if trial.state == TrialState.COMPLETE else (
            trial.intermediate_values[trial.last_step] if trial.last_step is not None else None)
        if value is not None:
            metrics.append(Metric("val_auc", float(value), stamp, 0))
        for k, auc in enumerate(trial.user_attrs.get("fold_aucs", [])):
            metrics.append(Metric(f"val_auc_fold_{k + 1}", float(auc), stamp, 0))
        tags = [RunTag("trial.failure", trial.user_attrs["failure"][:5000])] if "failure" in trial.user_attrs else []
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        with _no_run_links():
            self.client.set_terminated(run.info.run_id, "FAILED" if trial.state == TrialState.FAIL else "FINISHED",
                                       end_time=_ms(trial.datetime_complete))

    def finish(self, result: TuneResult, tuned_yaml: str, file_name: str) -> None:
        run = self.parent_run_id
        self.client.log_batch(run, metrics=[Metric(k, float(v), 0, 0) for k, v in (
            ("best_val_auc", result.best_value), ("trials_complete", result.complete),
            ("trials_pruned", result.pruned), ("trials_failed", result.failed), ("tune_seconds", result.seconds))],
            tags=[RunTag("best_trial", str(result.best_number)), RunTag("objective", result.objective)])
        self.client.log_text(run, tuned_yaml, f"tuned/{file_name}")


@contextmanager
def mlflow_study(tracking_uri: str, experiment: str, run_name: str, params: dict[str, Any],
                 tags: dict[str, str]) -> Iterator[MlflowStudyTracker]:
    """The parent run, FINISHED on a normal exit and FAILED on an exception (a trial's nested run
    is created when the trial ends)."""
    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found is not None else client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name=run_name, tags={"tune": "study", **tags})
    client.log_batch(run.info.run_id, params=[Param(k, _text(v)) for k, v in params.items()])
    try:
        yield MlflowStudyTracker(client, experiment_id, run.info.run_id)
    except BaseException:
        client.set_terminated(run.info.run_id, "FAILED")
        raise
    client.set_terminated(run.info.run_id, "FINISHED")
