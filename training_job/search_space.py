"""The hyperparameters `python -m training_job tune` searches, and how a trial's sample becomes a config.

A trial samples values keyed by their config path (`optimisation.lr`, `network.hidden_sizes`, ...);
they are merged into the base config's mapping and validated by the same pydantic model as a YAML
file (training_job/config.py), so a sample the config would refuse fails the same way.

The categorical choices of activation, normalisation, schedule and numeric embedding kind are the
config's own `Literal`s: a value added there is searched without an edit here.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, get_args

import optuna

from training_job.config import NetworkConfig, NumericEmbeddingConfig, OptimisationConfig, TrainConfig, parse_config


def _choices(model: type, field: str) -> tuple[str, ...]:
    return get_args(model.model_fields[field].annotation)


ACTIVATIONS = _choices(NetworkConfig, "activation")
NORMALIZATIONS = _choices(NetworkConfig, "normalization")
SCHEDULES = _choices(OptimisationConfig, "schedule")
NUMERIC_EMBEDDINGS = _choices(NumericEmbeddingConfig, "kind")
MIN_WIDTH = 8
"""The narrowest layer of a funnel (each hidden layer half the width of the one before)."""


@dataclass(frozen=True)
class SearchSpace:
    """Ranges of the search; `for_config` sets the epoch range from the config."""

    epochs: tuple[int, int]
    """Epoch cap (early stopping still applies, with the config's patience); the config's
    `optimisation.epochs` is the top of the range, a quarter of it the bottom."""
    lr: tuple[float, float] = (1e-4, 3e-2)
    """Learning rate, log-uniform."""
    weight_decay: tuple[float, float] = (1e-6, 1e-2)
    """Weight decay, log-uniform."""
    batch_sizes: tuple[int, ...] = (32, 64, 128, 256)
    depth: tuple[int, int] = (1, 3)
    """Hidden layers."""
    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    """Width of the first hidden layer; the others the same or (funnel) halving."""
    dropout: tuple[float, float] = (0.0, 0.5)
    embedding_dims: tuple[int | None, ...] = (None, 2, 4, 8, 16)
    """Categorical embedding width; None = the per-feature default."""
    numeric_dims: tuple[int, ...] = (4, 8, 16, 32)
    frequencies: tuple[int, ...] = (4, 8, 16, 32, 64)
    """Periodic numeric embedding only."""
    sigma: tuple[float, float] = (0.01, 10.0)
    """Periodic numeric embedding only, log-uniform."""
    bins: tuple[int, ...] = (4, 8, 16, 32, 64)
    """Piecewise-linear numeric embedding only."""

    @classmethod
    def for_config(cls, cfg: TrainConfig) -> "SearchSpace":
        top = cfg.optimisation.epochs
        return cls(epochs=(max(1, math.ceil(top / 4)), top))


def hidden_sizes(depth: int, width: int, funnel: bool) -> list[int]:
    if not funnel:
        return [width] * depth
    return [max(MIN_WIDTH, width >> i) for i in range(depth)]


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """One sample, as {config path: value}. Numeric-embedding details are sampled only for the
    kind that uses them (a conditional space: TPE's `group` option models it)."""
    depth = trial.suggest_int("network.depth", *space.depth)
    width = trial.suggest_categorical("network.width", space.widths)
    funnel = depth > 1 and trial.suggest_categorical("network.funnel", (False, True))
    values: dict[str, Any] = {
        "optimisation.lr": trial.suggest_float("optimisation.lr", *space.lr, log=True),
        "optimisation.weight_decay": trial.suggest_float("optimisation.weight_decay", *space.weight_decay, log=True),
        "optimisation.batch_size": trial.suggest_categorical("optimisation.batch_size", space.batch_sizes),
        "optimisation.epochs": trial.suggest_int("optimisation.epochs", *space.epochs),
        "optimisation.schedule": trial.suggest_categorical("optimisation.schedule", SCHEDULES),
        "network.hidden_sizes": hidden_sizes(depth, width, funnel),
        "network.dropout": trial.suggest_float("network.dropout", *space.dropout),
        "network.activation": trial.suggest_categorical("network.activation", ACTIVATIONS),
        "network.normalization": trial.suggest_categorical("network.normalization", NORMALIZATIONS),
        "network.embedding_dim": trial.suggest_categorical("network.embedding_dim", space.embedding_dims),
    }
    kind = trial.suggest_categorical("network.numeric_embedding.kind", NUMERIC_EMBEDDINGS)
    values["network.numeric_embedding.kind"] = kind
    if kind != "none":
        values["network.numeric_embedding.dim"] = trial.suggest_categorical("network.numeric_embedding.dim",
                                                                            space.numeric_dims)
    if kind == "periodic":
        values["network.numeric_embedding.frequencies"] = trial.suggest_categorical(
            "network.numeric_embedding.frequencies", space.frequencies)
        values["network.numeric_embedding.sigma"] = trial.suggest_float("network.numeric_embedding.sigma",
                                                                        *space.sigma, log=True)
    if kind == "piecewise_linear":
        values["network.numeric_embedding.bins"] = trial.suggest_categorical("network.numeric_embedding.bins",
                                                                             space.bins)
    return values


def merge(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config mapping with `values` ({"a.b.c": value}) set, sections created as needed."""
    out = copy.deepcopy(raw)
    for key, value in values.items():
        node = out
        *sections, field = key.split(".")
        for part in sections:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"{key}: {part} is not a section")
            node = child
        node[field] = copy.deepcopy(value)
    return out


def sampled_config(base: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """The base config with a sample merged in, through the config's own validation
    (a ConfigError naming the field if the sample is not a valid config)."""
    return parse_config(merge(base.model_dump(mode="json"), values), "<tuning trial>")
