"""The serving form of a seed ensemble (StackedEnsemble) must compute what the trained one does."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from training_job.config import NetworkConfig
from training_job.export import ONNX_OPSET
from training_job.network import CreditNet, Ensemble, StackedEnsemble

CASES = {
    "batchnorm-relu": dict(normalization="batchnorm", activation="relu", embedding_dim=4),
    "layernorm-gelu-mixed-widths": dict(normalization="layernorm", activation="gelu", embedding_dim=None),
    "none-tanh-periodic": dict(normalization="none", activation="tanh", numeric_embedding={"kind": "periodic", "dim": 4}),
    "piecewise-silu": dict(normalization="batchnorm", activation="silu", numeric_embedding={"kind": "piecewise_linear", "bins": 4}),
}


def _inputs(names: list[str], n: int, cards: list[int], rng: np.random.Generator) -> list[torch.Tensor]:
    out = {"numeric": torch.as_tensor(rng.normal(size=(n, 3)), dtype=torch.float32),
           "flags": torch.as_tensor(rng.integers(0, 2, size=(n, 2)), dtype=torch.float32),
           "categorical": torch.as_tensor(np.stack([rng.integers(0, c, size=n) for c in cards or [1]], axis=1))}
    return [out[k] for k in names]


def _ensemble(names: list[str], cards: list[int], cfg: NetworkConfig, rng: np.random.Generator) -> Ensemble:
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        net = CreditNet(names, 3 if "numeric" in names else 0, 2 if "flags" in names else 0, cards, cfg,
                        numeric_sample=rng.normal(size=(200, 3)))
        net.train()
        with torch.no_grad():  # non-trivial BatchNorm running statistics to fold
            for _ in range(3):
                net(*_inputs(names, 64, cards, rng))
        members.append(net.eval())
    return Ensemble(members).eval()


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize("names", [["numeric", "flags", "categorical"], ["numeric"], ["categorical"]],
                         ids=["all-inputs", "numeric-only", "categorical-only"])
def test_stacked_ensemble_matches_the_ensemble(case: str, names: list[str]) -> None:
    rng = np.random.default_rng(0)
    cards = [3, 7, 20] if "categorical" in names else []
    cfg = NetworkConfig(hidden_sizes=[16, 8], **CASES[case])
    ensemble = _ensemble(names, cards, cfg, rng)
    stacked = StackedEnsemble(ensemble).eval()
    x = _inputs(names, 50, cards, rng)
    with torch.no_grad():
        expected, got = ensemble(*x), stacked(*x)
    assert got.shape == expected.shape == (50,)
    assert torch.allclose(got, expected, atol=1e-5), float((got - expected).abs().max())


def test_stacked_ensemble_is_a_small_onnx_graph(tmp_path) -> None:
    rng = np.random.default_rng(1)
    names, cards = ["numeric", "categorical"], [3, 4, 5, 6]
    stacked = StackedEnsemble(_ensemble(names, cards, NetworkConfig(embedding_dim=4), rng)).eval()
    x = tuple(_inputs(names, 2, cards, rng))
    path = tmp_path / "m.onnx"
    torch.onnx.export(stacked, x, str(path), input_names=names, output_names=["logit"],
                      dynamic_axes={**{n: {0: "batch"} for n in names}, "logit": {0: "batch"}},
                      opset_version=ONNX_OPSET, dynamo=False)
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    # one lookup for every embedding of every member, one product per layer
    assert ops.count("Gather") == 1 and ops.count("MatMul") == 3, ops
