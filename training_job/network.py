"""The PyTorch network: embeddings for categoricals (and optionally numerics) feeding an MLP.

Numeric embeddings follow Gorishniy et al. 2022, "On Embeddings for Numerical Features in
Tabular Deep Learning": `periodic` is their PLR (periodic → linear → ReLU), `piecewise_linear`
their PLE with quantile bins. Every op here exports to ONNX with the TorchScript exporter.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from training_job.config import NetworkConfig, NumericEmbeddingConfig

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


class PeriodicEmbedding(nn.Module):
    """x → ReLU(Linear([cos 2πcx, sin 2πcx])) per feature, with learned frequencies c."""

    def __init__(self, n_features: int, cfg: NumericEmbeddingConfig) -> None:
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(n_features, cfg.frequencies) * cfg.sigma)
        self.weight = nn.Parameter(torch.empty(n_features, 2 * cfg.frequencies, cfg.dim))
        self.bias = nn.Parameter(torch.zeros(n_features, cfg.dim))
        nn.init.uniform_(self.weight, -1 / math.sqrt(2 * cfg.frequencies), 1 / math.sqrt(2 * cfg.frequencies))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = 2 * math.pi * self.frequencies[None] * x[..., None]
        periodic = torch.cat([torch.cos(v), torch.sin(v)], dim=-1)
        out = torch.einsum("bfk,fkd->bfd", periodic, self.weight) + self.bias
        return torch.relu(out).flatten(1)


class PiecewiseLinearEmbedding(nn.Module):
    """PLE: per-bin ramp encoding between quantile edges, then a per-feature linear map."""

    def __init__(self, edges: np.ndarray, cfg: NumericEmbeddingConfig) -> None:
        super().__init__()
        # edges: [n_features, bins + 1], increasing per row (ties nudged apart at fit time)
        e = torch.as_tensor(edges, dtype=torch.float32)
        self.register_buffer("left", e[:, :-1])
        self.register_buffer("width", (e[:, 1:] - e[:, :-1]).clamp_min(1e-6))
        bins = e.shape[1] - 1
        self.weight = nn.Parameter(torch.empty(e.shape[0], bins, cfg.dim))
        self.bias = nn.Parameter(torch.zeros(e.shape[0], cfg.dim))
        nn.init.uniform_(self.weight, -1 / math.sqrt(bins), 1 / math.sqrt(bins))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ramp = (x[..., None] - self.left[None]) / self.width[None]
        n_bins = ramp.shape[-1]
        # first bin open to the left, last open to the right, inner bins clamped to [0, 1]
        lo = torch.cat([ramp[..., :1], ramp[..., 1:].clamp(min=0.0)], dim=-1)
        enc = torch.cat([lo[..., : n_bins - 1].clamp(max=1.0), lo[..., n_bins - 1 :]], dim=-1)
        out = torch.einsum("bfk,fkd->bfd", enc, self.weight) + self.bias
        return torch.relu(out).flatten(1)


def quantile_edges(numeric: np.ndarray, bins: int) -> np.ndarray:
    """Per-feature bin edges at training quantiles, strictly increasing."""
    q = np.quantile(numeric, np.linspace(0, 1, bins + 1), axis=0).T.astype(np.float64)
    # tied quantiles (mass points) become tiny bins rather than zero-width ones
    for row in q:
        for j in range(1, row.size):
            row[j] = max(row[j], row[j - 1] + 1e-3)
    return q


def categorical_width(cardinality: int, cfg: NetworkConfig) -> int:
    return cfg.embedding_dim or min(16, (cardinality + 1) // 2)


class CreditNet(nn.Module):
    """inputs (as listed in `input_names`) → logit [N]."""

    def __init__(
        self,
        input_names: list[str],
        n_numeric: int,
        n_flags: int,
        cardinalities: list[int],
        cfg: NetworkConfig,
        numeric_sample: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.input_names = list(input_names)
        emb_cfg = cfg.numeric_embedding
        if n_numeric and emb_cfg.kind == "periodic":
            self.numeric_embedding: nn.Module = PeriodicEmbedding(n_numeric, emb_cfg)
            numeric_width = n_numeric * emb_cfg.dim
        elif n_numeric and emb_cfg.kind == "piecewise_linear":
            if numeric_sample is None:
                raise ValueError("piecewise_linear embeddings need the training numerics for their bins")
            self.numeric_embedding = PiecewiseLinearEmbedding(quantile_edges(numeric_sample, emb_cfg.bins), emb_cfg)
            numeric_width = n_numeric * emb_cfg.dim
        else:
            self.numeric_embedding = nn.Identity()
            numeric_width = n_numeric
        self.embeddings = nn.ModuleList(nn.Embedding(c, categorical_width(c, cfg)) for c in cardinalities)
        width = numeric_width + n_flags + sum(e.embedding_dim for e in self.embeddings)
        layers: list[nn.Module] = []
        for size in cfg.hidden_sizes:
            layers.append(nn.Linear(width, size))
            if cfg.normalization == "batchnorm":
                layers.append(nn.BatchNorm1d(size))
            elif cfg.normalization == "layernorm":
                layers.append(nn.LayerNorm(size))
            layers.append(_ACTIVATIONS[cfg.activation]())
            if cfg.dropout:
                layers.append(nn.Dropout(cfg.dropout))
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.input_names, inputs))
        parts: list[torch.Tensor] = []
        if "numeric" in named:
            parts.append(self.numeric_embedding(named["numeric"]))
        if "flags" in named:
            parts.append(named["flags"])
        if "categorical" in named:
            cat = named["categorical"]
            parts.extend(emb(cat[:, i]) for i, emb in enumerate(self.embeddings))
        return self.mlp(torch.cat(parts, dim=1)).squeeze(-1)


class Ensemble(nn.Module):
    """Mean of member logits: one ONNX graph for a seed ensemble."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(*inputs) for m in self.members]).mean(dim=0)


class StackedEnsemble(nn.Module):
    """The same function as `Ensemble` (eval mode), arranged for serving: all categorical
    embeddings of all members in one table read by a single Gather, BatchNorm folded into the
    Linear before it, and each layer one batched matrix product over members. An 8-member
    ensemble becomes ~25 ONNX nodes instead of ~130 (small requests pay less per-node
    overhead) with no narrow per-feature concatenations (large ones move less memory). Built
    only for export; the export check compares it with the trained ensemble."""

    def __init__(self, ensemble: Ensemble) -> None:
        super().__init__()
        members: list[CreditNet] = list(ensemble.members)  # type: ignore[arg-type]
        first = members[0]
        self.input_names = first.input_names
        self.n_members = m = len(members)
        self.shared_numeric = isinstance(first.numeric_embedding, nn.Identity)
        self.numeric_embeddings = nn.ModuleList(mem.numeric_embedding for mem in members)
        widths = [e.embedding_dim for e in first.embeddings]
        self.width = max(widths, default=0)
        self.n_categorical = len(widths)
        # one table [M, all categories, width]: feature i's categories start at offsets[i]; vectors
        # are zero-padded to the widest embedding (the matching first-layer weights are zero)
        rows = []  # [M, cardinality, width] per feature
        for i, w in enumerate(widths):
            rows.append(torch.stack([nn.functional.pad(mem.embeddings[i].weight.detach(), (0, self.width - w))
                                     for mem in members]))
        cardinalities = [r.shape[1] for r in rows]
        self.register_buffer("offsets", torch.tensor(np.cumsum([0, *cardinalities[:-1]]), dtype=torch.int64))
        # member-major, so the lookup lands in [M, N, F, width] with no transpose
        self.table = nn.Parameter(torch.cat(rows, dim=1) if rows else torch.zeros(m, 0, 0))
        cat_start = first.mlp[0].in_features - sum(widths)
        # first-layer input rows in the padded order: dense part, then each feature padded
        src = cat_start
        padded_rows: list[int] = list(range(cat_start))
        for w in widths:
            padded_rows += list(range(src, src + w)) + [-1] * (self.width - w)
            src += w
        weights, biases, norms, activations = [], [], [], []
        for layers in zip(*(mem.mlp for mem in members)):
            kind = layers[0]
            if isinstance(kind, nn.Linear):
                w = torch.stack([layer.weight.detach().T for layer in layers])  # [M, in, out]
                if not weights:
                    w = torch.cat([w, torch.zeros(m, 1, w.shape[2])], dim=1)[:, padded_rows, :]  # -1 → zero row
                weights.append(w)
                biases.append(torch.stack([layer.bias.detach()[None] for layer in layers]))  # [M, 1, out]
                norms.append(None)
                activations.append(None)
            elif isinstance(kind, nn.BatchNorm1d):
                scale = torch.stack([(b.weight / torch.sqrt(b.running_var + b.eps)).detach() for b in layers])
                shift = torch.stack([(b.bias - b.running_mean * b.weight / torch.sqrt(b.running_var + b.eps)).detach()
                                     for b in layers])
                weights[-1] = weights[-1] * scale[:, None, :]
                biases[-1] = biases[-1] * scale[:, None, :] + shift[:, None, :]
            elif isinstance(kind, nn.LayerNorm):
                norms[-1] = (torch.stack([b.weight.detach()[None] for b in layers]),
                             torch.stack([b.bias.detach()[None] for b in layers]), kind.eps)
            elif not isinstance(kind, nn.Dropout):
                activations[-1] = kind
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList(biases)
        self.norms = norms
        self.activations = activations

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.input_names, inputs))
        m = self.n_members
        parts: list[torch.Tensor] = []  # each [M, N, width]
        if "numeric" in named:
            x = named["numeric"]
            if self.shared_numeric:
                parts.append(x[None].expand(m, -1, -1))
            else:
                parts.append(torch.stack([emb(x) for emb in self.numeric_embeddings]))
        if "flags" in named:
            parts.append(named["flags"][None].expand(m, -1, -1))
        if "categorical" in named:
            cat = named["categorical"]
            looked_up = self.table[:, cat + self.offsets]  # [M, N, F, width]
            parts.append(looked_up.reshape(m, -1, self.n_categorical * self.width))
        h = torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]  # [M, N, width]
        for weight, bias, norm, activation in zip(self.weights, self.biases, self.norms, self.activations):
            h = torch.matmul(h, weight) + bias
            if norm is not None:
                gamma, beta, eps = norm
                h = nn.functional.layer_norm(h, h.shape[-1:], eps=eps) * gamma + beta
            if activation is not None:
                h = activation(h)
        return h.mean(dim=0).squeeze(-1)
