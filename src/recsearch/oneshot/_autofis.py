"""``autofis-oneshot``: a gate per field pair, trained with the model, GRDA for sparsity (AutoFIS).

The supernet is the space's default configuration with every pair switched on. Each pair's
scalar interaction term is batch-normalised (no affine part, so a gate's size is the pair's
weight, not its scale) and multiplied by its gate ``alpha_p``; the logit adds
``sum_p alpha_p * BN(term_p)``. Model weights train with Adam, the gates with generalized
regularized dual averaging (GRDA, Chao & Cheng 2019, the optimizer AutoFIS uses)::

    acc   <- acc - gate_lr * grad
    alpha <- sign(acc) * max(|acc| - c * gate_lr**0.5 * (step * gate_lr)**mu, 0)

whose growing threshold sets the gates of pairs that do not pay their way to exactly zero. The
derived configuration switches on the pairs above the two-means split of the gate magnitudes
(:func:`split_sizes`); the alternatives take one pair more or fewer, then the next best splits.
Pair functions (``.fn``) and every other hyperparameter stay at the space's defaults.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

import numpy as np
import torch
from ConfigSpace import CategoricalHyperparameter
from ConfigSpace import ConfigurationSpace
from torch import nn

from recsearch.errors import SpaceError
from recsearch.objectives.cost import static_cost
from recsearch.oneshot import _common as c
from recsearch.spaces import pair_name

if TYPE_CHECKING:
    from recsearch.spec import ModelSpec

NAME = "autofis-oneshot"
PRESETS = ("autofis", "sif", "autofeature", "aim", "full", "autoias")


def is_pair_boolean(space: ConfigurationSpace, name: str) -> bool:
    """Whether ``name`` is a pair's on/off boolean (``inter.<a>-<b>``)."""
    if not name.startswith("inter.") or name.endswith(".fn"):
        return False
    hp = space[name]
    return isinstance(hp, CategoricalHyperparameter) and set(hp.choices) == {False, True}


def pair_terms(module: nn.Module, e: torch.Tensor) -> torch.Tensor:
    """Per-pair scalar terms of one ``PairFunction`` module: ``(batch, pairs)``."""
    a = e.index_select(1, module.left)
    b = e.index_select(1, module.right)
    f = module.function
    if f == "inner":
        return (a * b).sum(2)
    if f == "outer":
        return torch.einsum("bpi,pij,bpj->bp", a, module.weight, b)
    if f == "concat":
        h = torch.relu(
            torch.einsum("bpi,pih->bph", torch.cat((a, b), -1), module.weight) + module.hidden_bias
        )
        return (h * module.out).sum(2)
    ops = {"hadamard": torch.mul, "plus": torch.add, "max": torch.maximum, "min": torch.minimum}
    return (ops[f](a, b) * module.weight).sum(2)


class GatedPairs(nn.Module):
    """Every pair's term, batch-normalised and gated: the AutoFIS search-stage interaction.

    Args:
        functions: The ``PairFunction`` modules of the all-pairs model.
        init: Initial gate value.
    """

    def __init__(self, functions: Sequence[nn.Module], *, init: float) -> None:
        super().__init__()
        self.functions = nn.ModuleList(functions)
        n = sum(int(m.left.numel()) for m in functions)
        self.norm = nn.BatchNorm1d(n, affine=False)
        self.gates = nn.Parameter(torch.full((n,), float(init)))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``sum_p gate_p * BN(term_p)``: ``(batch,)``."""
        terms = torch.cat([pair_terms(m, e) for m in self.functions], 1)
        return (self.norm(terms) * self.gates).sum(1)


class GRDA:
    """GRDA updates of one parameter (see the module docstring)."""

    def __init__(self, param: nn.Parameter, *, lr: float, c: float, mu: float) -> None:
        self.param = param
        self.lr = lr
        self.c = c
        self.mu = mu
        self.acc: torch.Tensor | None = None
        self.steps = 0

    def step(self) -> None:
        """One update from ``param.grad``."""
        assert self.param.grad is not None
        if self.acc is None:
            # NOTE: taken at the first step, on the device the model was moved to by then.
            self.acc = self.param.detach().clone()
        self.steps += 1
        with torch.no_grad():
            self.acc -= self.lr * self.param.grad
            threshold = self.c * math.sqrt(self.lr) * (self.steps * self.lr) ** self.mu
            self.param.copy_(torch.sign(self.acc) * torch.clamp(self.acc.abs() - threshold, min=0))


def _pair_order(spec: ModelSpec, model: Any) -> list[tuple[str, str]]:
    """Field pairs in the order of the model's gated terms (functions sorted, spec order)."""
    by_function: dict[str, list[tuple[str, str]]] = {}
    emb = model.plan.embedding
    assert spec.interaction is not None and spec.interaction.pairs is not None
    for pair in spec.interaction.pairs:
        if emb.position(pair.fields[0]) is None or emb.position(pair.fields[1]) is None:
            continue
        by_function.setdefault(pair.function, []).append(pair.fields)
    return [p for f in sorted(by_function) for p in by_function[f]]


def search(request: c.Request) -> c.OneShotResult:
    """Train the gated supernet and derive pair selections (module docstring)."""
    space, dataset, epochs, device, seed, base, options = request
    clock = c.Clock()
    relaxed, held = c.relaxable(
        space, NAME, lambda n: is_pair_boolean(space, n), presets=PRESETS
    )
    gate_lr = float(options.get("gate_lr", 1.0))
    grda_c = float(options.get("grda_c", 0.03))
    grda_mu = float(options.get("grda_mu", 0.8))
    n_configs = int(options.get("n_configs", 4))
    schema = dataset.schema
    spec, base_spec, generator, model = c.supernet(
        space, {n: True for n in relaxed}, schema, base=base, seed=seed
    )
    if model.pairs is None:
        raise SpaceError(f"{NAME}: the supernet of this space has no pair to gate.")
    order = _pair_order(spec, model)
    model.pairs = GatedPairs(list(model.pairs.functions), init=float(options.get("init", 1.0)))
    gates = model.pairs.gates
    grda = GRDA(gates, lr=gate_lr, c=grda_c, mu=grda_mu)
    done, valid_auc = c.train_supernet(
        model, spec, dataset, device=device, epochs=epochs, generator=generator,
        arch=[gates], arch_step=grda.step, bilevel=False,
    )
    alpha = gates.detach().cpu().numpy().astype(float)
    names = [f"inter.{pair_name(a, b)}" for a, b in order]
    configurations = _derive(space, names, alpha, relaxed, n_configs)
    # NOTE: supernet FLOPs: the all-pairs model plus batch norm and gate per pair (4 + 2).
    flops = static_cost(spec, schema).flops_per_sample + 6 * len(names)
    ratio = flops / max(static_cost(base_spec, schema).flops_per_sample, 1)
    return c.OneShotResult(
        method=NAME,
        configurations=configurations,
        weights=dict(zip(names, alpha.tolist(), strict=True)),
        held=tuple(held),
        epochs=float(done),
        flops_ratio=float(ratio),
        epoch_equivalents=float(done) * float(ratio),
        wall_seconds=clock.seconds,
        valid_auc=float(valid_auc),
        seed=seed,
        info={
            "selected": [n for n in names if configurations[0][n]],
            "nonzero": [n for n, a in zip(names, alpha, strict=True) if a != 0],
        },
    )


def split_sizes(alpha: np.ndarray) -> list[int]:
    """Selection sizes ``k`` (top-k gates by magnitude), the best split first.

    The best split is the 1-D two-means (Otsu) split of the gate magnitudes: the ``k`` that
    maximizes ``k (n - k) (mean of the top k - mean of the rest)^2``. On planted data it found
    the planted pairs where the largest single gap between consecutive magnitudes cut inside
    them (one strong pair far above the others) and a log-gap cut in the noise tail.
    """
    mags = np.sort(np.abs(alpha))[::-1]
    n = len(mags)
    if n < 2 or mags[0] == 0:
        return [1]
    k = np.arange(1, n)
    top = np.cumsum(mags)[:-1] / k
    rest = (mags.sum() - np.cumsum(mags)[:-1]) / (n - k)
    score = k * (n - k) * (top - rest) ** 2
    return [int(i) + 1 for i in np.argsort(-score, kind="stable")]


def _derive(
    space: ConfigurationSpace,
    names: list[str],
    alpha: np.ndarray,
    relaxed: list[str],
    n_configs: int,
) -> tuple[Any, ...]:
    """Top-k pairs by gate magnitude: the best split, its neighbours, the next best splits."""
    ranked = [names[i] for i in np.argsort(-np.abs(alpha), kind="stable")]
    splits = split_sizes(alpha)
    sizes: list[int] = []
    for k in [splits[0], splits[0] + 1, splits[0] - 1, *splits[1:]]:
        if 1 <= k <= len(ranked) and k not in sizes:
            sizes.append(k)
    out = []
    for k in sizes[: max(1, n_configs)]:
        on = set(ranked[:k])
        # NOTE: pairs the supernet did not gate (a dropped field) keep their default.
        out.append(c.configuration(space, {n: (n in on) for n in relaxed if n in names}))
    return tuple(out)
