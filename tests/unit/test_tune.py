"""`python -m training_job tune`: the search space gives valid configs, the folds never hold a test
row, the tuned YAML is the original with the best values and loads as a config, bad flags exit 2,
and a tiny study on the German data is reproducible with a seed and reports a pruned trial as such."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from tests.conftest import CONFIG_000, QUICK
from training_job.__main__ import main
from training_job.config import ConfigError, TrainConfig, load_config
from training_job.search_space import (ACTIVATIONS, NUMERIC_EMBEDDINGS, SCHEDULES, SearchSpace, hidden_sizes, merge,
                                       sampled_config, suggest)
from training_job.tune import (NoTrialCompleted, TuneResult, default_output, header_lines, run_study, tuned_yaml,
                               tuning_folds, write_tuned_config)

TINY = [*QUICK, "optimisation.threads=1"]
GERMAN = Path(__file__).resolve().parents[2] / "training_job" / "datasets" / "germancredit.csv"


@pytest.fixture(scope="module")
def base() -> TrainConfig:
    return load_config(CONFIG_000, TINY)


@pytest.fixture(scope="module")
def german(base):
    from training_job.data import load_dataset

    return load_dataset(base)


def samples(base: TrainConfig, n: int, seed: int = 0) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    space = SearchSpace.for_config(base)
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(suggest(trial, space))
        study.tell(trial, 0.5)
    return out


# ---- the search space


def test_every_sample_is_a_valid_config_carrying_the_sampled_values(base) -> None:
    drawn = samples(base, 150)
    for values in drawn:
        cfg = sampled_config(base, values)
        assert cfg.optimisation.lr == values["optimisation.lr"]
        assert cfg.network.hidden_sizes == values["network.hidden_sizes"]
        assert cfg.network.numeric_embedding.kind == values["network.numeric_embedding.kind"]
        assert 1 <= cfg.optimisation.epochs <= base.optimisation.epochs
        # what the search leaves alone stays the base config's
        assert cfg.data == base.data and cfg.split == base.split and cfg.scoring == base.scoring
        assert cfg.optimisation.seeds == base.optimisation.seeds and cfg.optimisation.patience == base.optimisation.patience
    seen = {k: {str(v[k]) for v in drawn} for k in ("network.activation", "optimisation.schedule",
                                                     "network.numeric_embedding.kind")}
    assert seen == {"network.activation": set(ACTIVATIONS), "optimisation.schedule": set(SCHEDULES),
                    "network.numeric_embedding.kind": set(NUMERIC_EMBEDDINGS)}
    lrs = np.array([v["optimisation.lr"] for v in drawn])
    space = SearchSpace.for_config(base)
    assert space.lr[0] <= lrs.min() and lrs.max() <= space.lr[1]
    assert np.median(lrs) < np.sqrt(space.lr[0] * space.lr[1]) * 3  # log-uniform: the median near the geometric mean


@pytest.mark.parametrize("kind", NUMERIC_EMBEDDINGS)
def test_numeric_embedding_details_are_sampled_for_their_kind_only(base, kind: str) -> None:
    params = {"network.depth": 2, "network.width": 64, "network.funnel": True, "optimisation.lr": 1e-3,
              "optimisation.weight_decay": 1e-4, "optimisation.batch_size": 64, "optimisation.epochs": 2,
              "optimisation.schedule": "cosine", "network.dropout": 0.1, "network.activation": "gelu",
              "network.normalization": "layernorm", "network.embedding_dim": None,
              "network.numeric_embedding.kind": kind, "network.numeric_embedding.dim": 16,
              "network.numeric_embedding.frequencies": 32, "network.numeric_embedding.sigma": 0.5,
              "network.numeric_embedding.bins": 8}
    values = suggest(optuna.trial.FixedTrial(params), SearchSpace.for_config(base))
    details = {k.rsplit(".", 1)[-1] for k in values if k.startswith("network.numeric_embedding.")} - {"kind"}
    assert details == {"none": set(), "periodic": {"dim", "frequencies", "sigma"},
                       "piecewise_linear": {"dim", "bins"}}[kind]
    cfg = sampled_config(base, values)
    assert cfg.network.hidden_sizes == [64, 32] and cfg.network.embedding_dim is None
    assert cfg.network.numeric_embedding.kind == kind


def test_hidden_sizes_constant_or_funnel_never_below_the_floor() -> None:
    assert hidden_sizes(3, 64, False) == [64, 64, 64]
    assert hidden_sizes(3, 64, True) == [64, 32, 16]
    assert hidden_sizes(3, 16, True) == [16, 8, 8]


def test_epochs_range_is_a_quarter_of_the_config_to_all_of_it(base) -> None:
    assert SearchSpace.for_config(base).epochs == (1, 3)
    assert SearchSpace.for_config(load_config(CONFIG_000)).epochs == (15, 60)


def test_an_invalid_sample_fails_the_config_validation_naming_the_field(base) -> None:
    with pytest.raises(ConfigError, match=r"network\.dropout: Input should be less than 1"):
        sampled_config(base, {"network.dropout": 2.0})
    with pytest.raises(ConfigError, match=r"optimisation\.lerning_rate: Extra inputs are not permitted"):
        sampled_config(base, {"optimisation.lerning_rate": 0.1})


def test_merge_copies_and_creates_sections() -> None:
    raw = {"network": {"hidden_sizes": [8]}, "data": {"path": "x"}}
    out = merge(raw, {"network.hidden_sizes": [4, 2], "network.numeric_embedding.kind": "periodic"})
    assert out == {"network": {"hidden_sizes": [4, 2], "numeric_embedding": {"kind": "periodic"}}, "data": {"path": "x"}}
    assert raw == {"network": {"hidden_sizes": [8]}, "data": {"path": "x"}}
    with pytest.raises(ValueError, match="path is not a section"):
        merge(raw, {"data.path.deeper": 1})


# ---- the rows the objective sees


def test_folds_never_hold_a_test_row(base, german) -> None:
    from training_job.pipeline import split_indices

    y = german.target
    train, val, test = split_indices(y, base.split)
    [(t, v)] = tuning_folds(y, base.split, None)
    assert np.array_equal(t, train) and np.array_equal(v, val)  # the training job's own split
    folds = tuning_folds(y, base.split, 4)
    assert len(folds) == 4
    held_out = np.concatenate([v for _, v in folds])
    assert np.array_equal(np.sort(held_out), np.sort(np.concatenate([train, val])))  # each non-test row once
    for t, v in folds:
        assert not set(t) & set(v)
        assert not (set(t) | set(v)) & set(test)
        assert abs(y[v].mean() - y.mean()) < 0.03  # stratified


# ---- the tuned config file


def result_for(cfg: TrainConfig, values: dict) -> TuneResult:
    return TuneResult(best_number=3, best_value=0.78125, best_values=values, best_config=sampled_config(cfg, values),
                      complete=4, pruned=2, failed=0, seconds=90.0, objective="validation AUC")


def test_tuned_yaml_is_the_original_with_the_best_values_and_loads(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy(GERMAN, tmp_path / "data" / "german.csv")
    (tmp_path / "configs").mkdir()
    raw = yaml.safe_load(CONFIG_000.read_text())
    raw["data"]["path"] = "../data/german.csv"  # relative to the config's folder
    config = tmp_path / "configs" / "mine.yaml"
    config.write_text(yaml.safe_dump(raw))
    base = load_config(config, ["optimisation.seeds=1"])
    values = samples(base, 1, seed=3)[0]
    result = result_for(base, values)
    output = tmp_path / "elsewhere" / "deeper" / "tuned.yaml"
    header = header_lines(config, "../data/german.csv", 7, result, ["optimisation.seeds=1"])
    text = tuned_yaml(config, ["optimisation.seeds=1"], result, output, header)
    loaded = write_tuned_config(output, text)
    assert loaded == result.best_config  # every field, the data path resolving to the same file
    assert loaded.data.path == str((tmp_path / "data" / "german.csv").resolve())
    assert yaml.safe_load(output.read_text())["data"]["path"] == "../../data/german.csv"
    assert loaded.optimisation.seeds == 1 and loaded.description == base.description
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments[0].startswith(f"# Tuned by `python -m training_job tune` from {config}")
    assert "sampler seed 7" in comments[0]
    assert "# 6 trials in 1.5 min: 4 complete, 2 pruned, 0 failed." in comments
    assert "# Best: trial 3, validation AUC 0.7812." in comments
    assert any("test split was not used" in c for c in comments)
    assert "--set optimisation.seeds=1" in text
    assert "hidden_sizes: [" in text  # lists of numbers on one line, as the configs write them


def test_tuned_config_that_does_not_validate_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="network.dropout"):
        write_tuned_config(tmp_path / "t.yaml", yaml.safe_dump({"data": {"target": "t", "positive_label": 1},
                                                                "network": {"dropout": 3}}))


def test_default_output_is_beside_nothing_but_the_current_directory() -> None:
    assert default_output(CONFIG_000) == Path("model_config_000-tuned.yaml")


# ---- the command line


@pytest.mark.parametrize(("args", "expected"), [
    (["--budget-minutes", "0"], "--budget-minutes: Input should be greater than 0 (got '0')"),
    (["--budget-minutes", "-1"], "--budget-minutes: Input should be greater than 0"),
    ([], "--budget-minutes: Field required"),
    (["--budget-minutes", "1", "--trials", "0"], "--trials: Input should be greater than or equal to 1"),
    (["--budget-minutes", "1", "--folds", "1"], "--folds: Input should be greater than or equal to 2"),
    (["--budget-minutes", "soon"], "--budget-minutes: Input should be a valid number"),
])
def test_bad_flags_exit_2_naming_the_flag(capsys, args: list[str], expected: str) -> None:
    assert main(["tune", "--config", str(CONFIG_000), *args]) == 2
    err = capsys.readouterr().err
    assert "error: invalid tuning settings" in err and expected in err, err


@pytest.mark.parametrize("flag", ["--bogus", "--budget"])  # no abbreviation of --budget-minutes either
def test_unknown_flag_exits_2(capsys, flag: str) -> None:
    with pytest.raises(SystemExit) as e:
        main(["tune", "--config", str(CONFIG_000), "--trials", "1", "--budget-minutes", "1", flag, "3"])
    assert e.value.code == 2
    assert f"unrecognized arguments: {flag} 3" in capsys.readouterr().err


def test_bad_config_exits_2_naming_the_field(capsys, tmp_path: Path) -> None:
    assert main(["tune", "--config", str(CONFIG_000), "--budget-minutes", "1", "--set", "network.dropout=2"]) == 2
    assert "network.dropout: Input should be less than 1 (got 2)" in capsys.readouterr().err
    assert main(["tune", "--config", str(tmp_path / "nope.yaml"), "--budget-minutes", "1"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_a_streamed_dataset_exits_2(capsys, tmp_path: Path) -> None:
    assert main(["tune", "--config", str(CONFIG_000), "--budget-minutes", "1", "--data", str(tmp_path)]) == 2
    assert "tune searches on a table in memory" in capsys.readouterr().err


def test_settings_read_the_training_variables_and_their_own(monkeypatch) -> None:
    from training_job.settings import parse_tune_settings

    monkeypatch.setenv("TRAINING_CONFIG", str(CONFIG_000))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("TUNE_BUDGET_MINUTES", "5")
    monkeypatch.setenv("SEED", "99")  # a bare name is nobody's
    s = parse_tune_settings(["--trials", "4"])
    assert (s.config, s.tracking_uri, s.budget_minutes, s.trials, s.seed) == (CONFIG_000, "http://mlflow:5000", 5.0, 4, None)


def test_training_command_is_unchanged_without_the_word_tune(capsys) -> None:
    from training_job.settings import parse_settings

    args = parse_settings(["--config", str(CONFIG_000), "--set", "optimisation.epochs=2"])
    assert args.config == CONFIG_000 and args.set == ["optimisation.epochs=2"]
    # `tune` only as the first word: elsewhere it is what it always was, an unknown argument
    with pytest.raises(SystemExit):
        main(["--config", str(CONFIG_000), "tune"])
    assert "unrecognized arguments: tune" in capsys.readouterr().err


# ---- tiny studies on the German data, in process


class PruneTrialOne(optuna.pruners.BasePruner):
    """Prunes trial 1 at its first epoch and nothing else: a pruned trial on cue."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number == 1


def study(german, base, seed: int, pruner=None) -> tuple[TuneResult, list[optuna.trial.FrozenTrial], str]:
    progress = io.StringIO()
    trials: list[optuna.trial.FrozenTrial] = []

    class Keep:
        def trial(self, t: optuna.trial.FrozenTrial) -> None:
            trials.append(t)

    result = run_study(german, base, budget_seconds=600, trials=3, seed=seed, tracker=Keep(), pruner=pruner,
                       progress=progress)
    return result, trials, progress.getvalue()


def test_same_seed_same_trials_and_a_pruned_trial_is_reported_pruned(german, base) -> None:
    first, trials_a, progress = study(german, base, seed=11, pruner=PruneTrialOne())
    again, trials_b, _ = study(german, base, seed=11, pruner=PruneTrialOne())
    assert [t.params for t in trials_a] == [t.params for t in trials_b]
    assert [t.value for t in trials_a] == [t.value for t in trials_b]  # the fits too: seeded, one thread
    assert [t.intermediate_values for t in trials_a] == [t.intermediate_values for t in trials_b]
    states = [t.state for t in trials_a]
    assert states[1] == optuna.trial.TrialState.PRUNED and states.count(optuna.trial.TrialState.PRUNED) == 1
    assert set(trials_a[1].intermediate_values) == {1}  # the fit stopped at the pruned epoch
    assert (first.complete, first.pruned, first.failed, first.trials) == (2, 1, 0, 3)
    lines = progress.splitlines()
    assert len(lines) == 3 and lines[1].startswith("[2/3] trial 1 pruned at epoch 1 (")
    assert lines[0].startswith("[1/3] trial 0 complete  value ") and "lr=" in lines[0]
    best = max((t for t in trials_a if t.value is not None), key=lambda t: t.value)
    assert first.best_number == best.number and first.best_value == best.value
    assert f"best {best.value:.4f} (trial {best.number})" in lines[-1]
    assert 0.5 < first.best_value <= 1.0
    # the reported value is the best validation AUC so far: it never goes down
    for t in trials_a:
        steps = [t.intermediate_values[s] for s in sorted(t.intermediate_values)]
        assert steps == sorted(steps)
    other, trials_c, _ = study(german, base, seed=12)
    assert [t.params for t in trials_c] != [t.params for t in trials_a]


def test_every_trial_pruned_is_no_result(german, base) -> None:
    with pytest.raises(NoTrialCompleted, match="no trial completed within the budget \\(2 pruned, 0 failed\\)"):
        run_study(german, base, budget_seconds=600, trials=2, seed=0,
                  pruner=optuna.pruners.ThresholdPruner(lower=1.01), progress=io.StringIO())
