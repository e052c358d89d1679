"""``darts``: mixed operations over pair functions (SIF, AutoFeature) and block types (AutoPI).

Every field pair computes every function its ``inter.<a>-<b>.fn`` hyperparameter offers, side by
side; each term is batch-normalised (functions differ in scale) and the pair's output is
``on_p * sum_f softmax(beta_p)_f * BN(term_pf)`` with ``on_p = sigmoid(gamma_p)``. Training is
bi-level, first order (Liu et al., 2019): a training batch updates the model weights, then a
validation batch updates ``beta`` and ``gamma`` (Adam), after a warm-up of the weights alone.

Derivation: each pair takes its ``argmax beta`` function; the pairs switched on are the top
``k`` by ``gamma`` at the two-means split (as ``autofis-oneshot`` splits its gates); the
alternatives take one pair more or fewer. Every other hyperparameter stays at its default.

A space with a ``block`` DAG (``autopi``, ``autoctr``) gets a mixed operation per node over its
candidate types and a softmax over its candidate inputs (:mod:`recsearch.oneshot._darts_blocks`),
trained the same way; a space with both has both in one supernet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import numpy as np
import torch
from ConfigSpace import ConfigurationSpace
from torch import nn

from recsearch.errors import SpaceError
from recsearch.objectives.cost import static_cost
from recsearch.objectives.interactions import PairFunction
from recsearch.oneshot import _common as c
from recsearch.oneshot import _darts_blocks as blocks
from recsearch.oneshot._autofis import is_pair_boolean
from recsearch.oneshot._autofis import pair_terms
from recsearch.oneshot._autofis import split_sizes
from recsearch.spec import InteractionSpec
from recsearch.spec import PairInteraction

if TYPE_CHECKING:
    from recsearch.spec import ModelSpec

NAME = "darts"
PRESETS = ("sif", "autofeature", "aim", "full", "autoias", "autopi", "autoctr")


class MixedPairs(nn.Module):
    """Every pair under every candidate function, mixed by ``softmax(beta)`` and gated.

    Args:
        functions: The candidate functions.
        positions: ``(i, j)`` stacked-view positions of the pairs.
        dim: Embedding width.
    """

    def __init__(
        self, functions: tuple[str, ...], positions: list[tuple[int, int]], *, dim: int
    ) -> None:
        super().__init__()
        self.ops = nn.ModuleList(PairFunction(f, positions, dim=dim) for f in functions)
        n, k = len(positions), len(functions)
        self.norm = nn.BatchNorm1d(n * k, affine=False)
        self.beta = nn.Parameter(torch.zeros(n, k))
        self.gamma = nn.Parameter(torch.zeros(n))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``sum_p sigmoid(gamma_p) sum_f softmax(beta_p)_f BN(term_pf)``: ``(batch,)``."""
        terms = torch.stack([pair_terms(op, e) for op in self.ops], 2)  # (batch, pairs, fns)
        terms = self.norm(terms.reshape(terms.shape[0], -1)).reshape(terms.shape)
        mixed = (terms * torch.softmax(self.beta, 1)).sum(2)
        return (mixed * torch.sigmoid(self.gamma)).sum(1)


def search(request: c.Request) -> c.OneShotResult:
    """Train the mixed supernet and derive pairs, functions and node types (module docstring)."""
    space, dataset, epochs, device, seed, base, options = request
    clock = c.Clock()

    def accepts(name: str) -> bool:
        if blocks.accepts(space, name):
            return True
        if is_pair_boolean(space, name):
            return f"{name}.fn" in space
        return name.endswith(".fn") and is_pair_boolean(space, name[: -len(".fn")])

    relaxed, held = c.relaxable(space, NAME, accepts, presets=PRESETS)
    switches = [n for n in relaxed if is_pair_boolean(space, n)]
    arch_lr = float(options.get("arch_lr", 0.05))
    warmup_share = float(options.get("warmup", 0.3))
    n_configs = int(options.get("n_configs", 3))
    schema = dataset.schema
    values: dict[str, Any] = {n: True for n in switches}
    if blocks.nodes(space):
        values.update(blocks.supernet_values(space))
    spec, base_spec, generator, model = c.supernet(space, values, schema, base=base, seed=seed)
    arch_params: list[torch.nn.Parameter] = []
    pair_values: list[dict[str, Any]] = []
    block_values: list[dict[str, Any]] = []
    weights: dict[str, Any] = {}
    info: dict[str, Any] = {}
    flops = static_cost(spec, schema).flops_per_sample
    mixed = names = functions = None
    if switches:
        functions = _functions(space, switches)
        names, positions = _positions(spec, space, switches, model.plan.embedding)
        mixed = MixedPairs(functions, positions, dim=model.plan.embedding.common_dim)
        model.pairs = mixed
        arch_params += [mixed.beta, mixed.gamma]
        flops += _mixed_flops(spec, schema, names, space, functions)
    cell = blocks.attach(model, space) if blocks.nodes(space) else None
    if cell is not None:
        arch_params += cell.arch_parameters()
        flops += blocks.flops(cell, spec, schema) - static_cost(spec, schema).flops_per_sample
    arch = torch.optim.Adam(arch_params, lr=arch_lr)
    done, valid_auc = c.train_supernet(
        model, spec, dataset, device=device, epochs=epochs, generator=generator,
        arch=arch_params, arch_step=arch.step, bilevel=True, warmup=warmup_share,
    )
    if mixed is not None and names is not None and functions is not None:
        beta = mixed.beta.detach().cpu().numpy().astype(float)
        gamma = mixed.gamma.detach().cpu().numpy().astype(float)
        picks = [functions[int(i)] for i in beta.argmax(1)]
        pair_values = _derive(names, gamma, picks, switches, n_configs)
        weights.update({
            nm: {
                "on": float(1 / (1 + np.exp(-g))),
                **dict(zip(functions, np.round(c.softmax(b), 4).tolist(), strict=True)),
            }
            for nm, g, b in zip(names, gamma, beta, strict=True)
        })
        info["selected"] = [nm for nm in names if pair_values[0][nm]]
        info["functions"] = dict(zip(names, picks, strict=True))
    if cell is not None:
        block_values = blocks.derive(cell, n_configs)
        weights.update(blocks.weights(cell))
        info["blocks"] = {k: v for k, v in block_values[0].items() if k.endswith(".type")}
        info["inputs"] = {k: v for k, v in block_values[0].items() if k.endswith(".main")}
    configurations = _combine(space, pair_values, block_values)
    ratio = flops / max(static_cost(base_spec, schema).flops_per_sample, 1)
    return c.OneShotResult(
        method=NAME,
        configurations=configurations,
        weights=weights,
        held=tuple(held),
        epochs=float(done),
        flops_ratio=float(ratio),
        epoch_equivalents=float(done) * float(ratio),
        wall_seconds=clock.seconds,
        valid_auc=float(valid_auc),
        seed=seed,
        info=info,
    )


def _functions(space: ConfigurationSpace, switches: list[str]) -> tuple[str, ...]:
    """The one list of candidate functions every pair offers."""
    choice_sets = {tuple(space[f"{n}.fn"].choices) for n in switches}
    if len(choice_sets) != 1:
        raise SpaceError(
            f"{NAME} needs one list of functions for every pair; the space has "
            f"{sorted(choice_sets)}."
        )
    return choice_sets.pop()


def _positions(
    spec: ModelSpec, space: ConfigurationSpace, switches: list[str], emb: Any
) -> tuple[list[str], list[tuple[int, int]]]:
    """The pair booleans the supernet can compute and their stacked-view positions."""
    names, positions = [], []
    for n in switches:
        a, b = _fields(spec, space, n)
        pa, pb = emb.position(a), emb.position(b)
        if pa is not None and pb is not None:
            names.append(n)
            positions.append((pa, pb))
    if not names:
        raise SpaceError(f"{NAME}: the supernet of this space has no pair to mix.")
    return names, positions


def _combine(
    space: ConfigurationSpace, *parts: list[dict[str, Any]]
) -> tuple[Any, ...]:
    """Configuration ``k`` takes each part's ``k``-th values (its last when it has fewer)."""
    parts = tuple(p for p in parts if p)
    n = max(len(p) for p in parts)
    out = []
    for k in range(n):
        values: dict[str, Any] = {}
        for p in parts:
            values.update(p[min(k, len(p) - 1)])
        config = c.configuration(space, values)
        if config not in out:
            out.append(config)
    return tuple(out)


def _fields(spec: ModelSpec, space: ConfigurationSpace, name: str) -> tuple[str, str]:
    """The two fields of the pair boolean ``name`` (from the spec, which names them)."""
    assert spec.interaction is not None and spec.interaction.pairs is not None
    for pair in spec.interaction.pairs:
        if name == f"inter.{pair.fields[0]}-{pair.fields[1]}":
            return pair.fields
    raise SpaceError(f"{NAME}: pair {name!r} is not in the decoded supernet.")


def _mixed_flops(
    spec: ModelSpec,
    schema: Any,
    names: list[str],
    space: ConfigurationSpace,
    functions: tuple[str, ...],
) -> int:
    """FLOPs per sample of the extra functions of every pair, batch norm and mixing.

    Every pair under every function, less the supernet spec's own (one function per pair),
    plus 6 per term for batch norm and mixing.
    """
    pairs = [_fields(spec, space, n) for n in names]
    none = spec.replace(interaction=InteractionSpec(pairs=()))
    own = static_cost(spec, schema).flops_per_sample - static_cost(none, schema).flops_per_sample
    total = 0
    for f in functions:
        every_pair = tuple(PairInteraction(p, f) for p in pairs)  # type: ignore[arg-type]
        every = spec.replace(interaction=InteractionSpec(pairs=every_pair))
        total += static_cost(every, schema).flops_per_sample - static_cost(
            none, schema
        ).flops_per_sample
    return int(total - own + 6 * len(pairs) * len(functions))


def _derive(
    names: list[str],
    gamma: np.ndarray,
    picks: list[str],
    switches: list[str],
    n_configs: int,
) -> list[dict[str, Any]]:
    """Top-k pairs by ``gamma`` at the two-means split, then k + 1 and k - 1.

    Each pair switched on takes its ``argmax beta`` function.
    """
    ranked = [names[i] for i in np.argsort(-gamma, kind="stable")]
    k0 = split_sizes(gamma - gamma.min())[0]
    sizes = [k for k in (k0, k0 + 1, k0 - 1) if 1 <= k <= len(ranked)]
    out = []
    for k in sizes[: max(1, n_configs)]:
        on = set(ranked[:k])
        values: dict[str, Any] = {n: (n in on) for n in switches if n in names}
        values.update({f"{n}.fn": fn for n, fn in zip(names, picks, strict=True) if n in on})
        out.append(values)
    return out
