"""``autogroup-oneshot``: Gumbel-softmax field membership of each group (AutoGroup, Liu et al.).

Each ``group.o<p>.g<k>.<field>`` boolean becomes a two-way choice with logits ``theta``; in the
supernet the field enters group ``(p, k)`` with weight ``m = gumbel_softmax(theta)[in]`` and the
group's term is the one the model computes for a hard group, with soft members::

    sum_d((sum_i m_i e_i)^p - sum_i (m_i e_i)^p)

(for ``m`` in {0, 1} exactly ``FieldGroup``'s term). Training is bi-level, first order (as
``darts``), after a warm-up of the weights alone; the membership logits start with a little
seeded noise so that groups of one order, identical at the space's default, can part ways.
Derivation: a field is in a group when its ``in`` probability is above one half; the alternative
uses the median probability of each group as its cut (half of the fields in every group).
Every other hyperparameter stays at its default.
"""

from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recsearch.errors import SpaceError
from recsearch.objectives.cost import static_cost
from recsearch.oneshot import _common as c

NAME = "autogroup-oneshot"
PRESETS = ("autogroup",)
_MEMBER = re.compile(r"^group\.o(\d+)\.g(\d+)\.(.+)$")


class SoftGroups(nn.Module):
    """Every group of every order with soft membership of every field.

    Args:
        orders: The order of each group.
        n_fields: Fields in the stacked view.
        init: Initial membership logits ``(groups, fields)`` (``in`` minus ``out``).
    """

    def __init__(self, orders: list[int], n_fields: int, init: torch.Tensor) -> None:
        super().__init__()
        self.orders = orders
        logits = torch.zeros(len(orders), n_fields, 2)
        logits[..., 1] = init
        self.theta = nn.Parameter(logits)

    def membership(self) -> torch.Tensor:
        """``(groups, fields)`` weights: Gumbel-softmax when training, hard when evaluating."""
        if self.training:
            return F.gumbel_softmax(self.theta, tau=1.0, dim=-1)[..., 1]
        return (self.theta[..., 1] > self.theta[..., 0]).to(self.theta.dtype)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """The sum of every group's term: ``(batch,)``."""
        m = self.membership()
        out: torch.Tensor | None = None
        for order in sorted(set(self.orders)):
            rows = [g for g, o in enumerate(self.orders) if o == order]
            w = m[rows]  # (groups, fields)
            weighted = torch.einsum("gf,bfd->bgfd", w, e)
            term = (weighted.sum(2).pow(order) - weighted.pow(order).sum(2)).sum((1, 2))
            out = term if out is None else out + term
        assert out is not None
        return out


def search(request: c.Request) -> c.OneShotResult:
    """Train the soft-membership supernet and derive the groups (module docstring)."""
    space, dataset, epochs, device, seed, base, options = request
    clock = c.Clock()
    relaxed, held = c.relaxable(
        space, NAME, lambda n: bool(_MEMBER.match(n)), presets=PRESETS
    )
    arch_lr = float(options.get("arch_lr", 0.2))
    schema = dataset.schema
    spec, base_spec, generator, model = c.supernet(
        space, {n: True for n in relaxed}, schema, base=base, seed=seed
    )
    emb = model.plan.embedding
    slots = sorted({(int(m[1]), int(m[2])) for n in relaxed if (m := _MEMBER.match(n))})
    names = list(emb.stacked_order)
    init = float(options.get("init", 0.0)) + 0.1 * torch.randn(
        len(slots), len(names), generator=generator
    )
    groups = SoftGroups([o for o, _ in slots], len(names), init)
    if model.groups is None:
        raise SpaceError(f"{NAME}: the supernet of this space has no group to relax.")
    model.groups = groups
    arch = torch.optim.Adam([groups.theta], lr=arch_lr)
    done, valid_auc = c.train_supernet(
        model, spec, dataset, device=device, epochs=epochs, generator=generator,
        arch=[groups.theta], arch_step=arch.step, bilevel=True,
        warmup=float(options.get("warmup", 0.3)),
    )
    theta = groups.theta.detach().cpu().numpy().astype(float)
    p_in = 1.0 / (1.0 + np.exp(theta[..., 0] - theta[..., 1]))  # (groups, fields)
    cuts = [np.full(len(slots), 0.5), np.median(p_in, axis=1)]
    configurations = []
    for cut in cuts:
        values = {
            f"group.o{o}.g{k}.{f}": bool(p_in[g, j] > cut[g])
            for g, (o, k) in enumerate(slots)
            for j, f in enumerate(names)
            if f"group.o{o}.g{k}.{f}" in space
        }
        config = c.configuration(space, values)
        if config not in configurations:
            configurations.append(config)
    # NOTE: supernet FLOPs: the all-fields groups plus the membership products (D per field
    # and group).
    flops = static_cost(spec, schema).flops_per_sample + len(slots) * len(names) * emb.common_dim
    ratio = flops / max(static_cost(base_spec, schema).flops_per_sample, 1)
    return c.OneShotResult(
        method=NAME,
        configurations=tuple(configurations),
        weights={
            f"group.o{o}.g{k}.{f}": float(p_in[g, j])
            for g, (o, k) in enumerate(slots)
            for j, f in enumerate(names)
        },
        held=tuple(held),
        epochs=done,
        flops_ratio=float(ratio),
        epoch_equivalents=done * float(ratio),
        wall_seconds=clock.seconds,
        valid_auc=float(valid_auc),
        seed=seed,
        info={
            "groups": {
                f"o{o}.g{k}": [f for j, f in enumerate(names) if p_in[g, j] > 0.5]
                for g, (o, k) in enumerate(slots)
            }
        },
    )
