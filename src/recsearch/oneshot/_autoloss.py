"""``autoloss-oneshot``: a controller over the loss mixture, trained on validation (AutoLoss).

The model of the space's default configuration trains on ``sum_k w_k L_k`` with
``w = softmax(lambda)`` over the space's losses (BCE, focal, hinge, squared error). The controller
``lambda`` is trained to lower the validation logloss after the model's next step. With one SGD
step of size ``eta`` the validation loss changes by ``-eta * sum_k w_k (g_k . g_val)`` to first
order (``g_k``: the gradient of loss ``k`` on the training batch, ``g_val``: that of the
validation logloss), so the controller's gradient is
``d L_val / d lambda = -eta * J_softmax^T (g_k . g_val)_k``: losses whose gradient points where
validation improves gain weight. The dot products are taken as cosines: with raw products the
loss with the largest gradients wins (hinge, measured) the way a larger step size would, which
says nothing about which loss fits the data. It is computed every ``every`` steps after a
warm-up (one gradient per loss and one on a validation batch) and applied with Adam.

Derivation: the weights scaled so the largest is the largest allowed weight, each rounded to the
nearest allowed weight; the alternative keeps the strongest loss alone. ``loss.focal_gamma`` and
every other hyperparameter stay at their defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from ConfigSpace import ConfigurationSpace

from recsearch.objectives.cost import static_cost
from recsearch.objectives.model import build_model
from recsearch.oneshot import _common as c
from recsearch.spaces import decode
from recsearch.spec import LOSSES

NAME = "autoloss-oneshot"
PRESETS = ("autoloss", "full")


def _losses(logit: torch.Tensor, label: torch.Tensor, names: list[str], gamma: float) -> list:
    """Each loss of ``names`` on one batch (the terms of ``mixture_loss`` with weight 1)."""
    bce = F.binary_cross_entropy_with_logits(logit, label, reduction="none")
    out = []
    for name in names:
        if name == "bce":
            out.append(bce.mean())
        elif name == "focal":
            out.append(((1.0 - torch.exp(-bce)).pow(gamma) * bce).mean())
        elif name == "hinge":
            out.append(torch.relu(1.0 - (2.0 * label - 1.0) * logit).mean())
        else:
            out.append((torch.sigmoid(logit) - label).pow(2).mean())
    return out


def _cosine(a: Sequence[torch.Tensor | None], b: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """Cosine of the angle between two gradients given as per-parameter tensors."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    dot = sum((x * y).sum() for x, y in pairs)
    na = torch.sqrt(sum((x * x).sum() for x, _ in pairs))
    nb = torch.sqrt(sum((y * y).sum() for _, y in pairs))
    return dot / (na * nb + 1e-12)  # type: ignore[operator]


def search(request: c.Request) -> c.OneShotResult:
    """Train the model with the controlled loss mixture and derive weights (module docstring)."""
    space, dataset, epochs, device, seed, base, options = request
    clock = c.Clock()
    relaxed, held = c.relaxable(
        space, NAME, lambda n: n in {f"loss.{k}" for k in LOSSES}, presets=PRESETS
    )
    names = [n.split(".", 1)[1] for n in relaxed]
    arch_lr = float(options.get("arch_lr", 0.2))
    every = max(1, int(options.get("every", 2)))
    warmup_share = float(options.get("warmup", 0.2))
    schema = dataset.schema
    default = space.get_default_configuration()
    spec = decode(default, schema, base=base)
    gamma = float(default.get("loss.focal_gamma") or 2.0)
    generator = c.seeded(seed)
    c.check_rows(dataset)
    model = build_model(spec, schema).to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    weights = torch.optim.Adam(params, lr=c.spec_lr(spec, len(dataset.train)))
    lam = torch.zeros(len(names), device=device, requires_grad=True)
    controller = torch.optim.Adam([lam], lr=arch_lr)
    train = c.tensors(dataset.train, device)
    valid = c.tensors(dataset.valid, device)
    n = len(dataset.train)
    bs = spec.training.batch_size
    warmup = int(warmup_share * max(1, int(np.ceil(epochs * n / bs))))
    held_out = c.cycle(valid, len(dataset.valid), bs, generator)
    eta = c.spec_lr(spec, len(dataset.train))
    done = 0.0
    for step, (progress, batch) in enumerate(c.batches(train, n, bs, epochs, generator)):
        done = progress
        logit = model(batch)["logit"]
        terms = _losses(logit, batch["label"], names, gamma)
        w = torch.softmax(lam, 0)
        if step >= warmup and step % every == 0:
            grads = [torch.autograd.grad(t, params, retain_graph=True, allow_unused=True)
                     for t in terms]
            v = next(held_out)
            v_loss = F.binary_cross_entropy_with_logits(model(v)["logit"], v["label"])
            g_val = torch.autograd.grad(v_loss, params, allow_unused=True)
            align = torch.stack([_cosine(g, g_val) for g in grads])
            controller.zero_grad(set_to_none=True)
            # NOTE: d L_val / d lambda = -eta * J_softmax^T align, by the chain rule on w.
            torch.autograd.backward(w, grad_tensors=-eta * align.detach())
            controller.step()
            w = torch.softmax(lam, 0)
        loss = sum(wk.detach() * t for wk, t in zip(w, terms, strict=True))
        weights.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        weights.step()
    valid_auc, _ = c.evaluate(model, valid)
    share = torch.softmax(lam.detach(), 0).cpu().numpy().astype(float)
    configurations = _derive(space, relaxed, share)
    cost = static_cost(spec, schema).flops_per_sample
    # NOTE: same model as the base; a training step is about 3 forward passes of FLOPs, and a
    # controller step adds a backward pass per loss (2 each) and a validation forward and
    # backward (3), once every ``every`` steps.
    ratio = 1.0 + (2 * len(names) + 3) / (3 * every)
    return c.OneShotResult(
        method=NAME,
        configurations=configurations,
        weights=dict(zip(relaxed, np.round(share, 4).tolist(), strict=True)),
        held=tuple(held),
        epochs=float(done),
        flops_ratio=ratio,
        epoch_equivalents=float(done) * ratio,
        wall_seconds=clock.seconds,
        valid_auc=float(valid_auc),
        seed=seed,
        info={"mixture": dict(zip(names, np.round(share, 4).tolist(), strict=True)),
              "flops_per_sample": cost},
    )


def _derive(space: ConfigurationSpace, relaxed: list[str], share: np.ndarray) -> tuple[Any, ...]:
    """The mixture scaled and rounded to allowed weights, then the strongest loss alone."""
    allowed = np.asarray(sorted(float(v) for v in space[relaxed[0]].sequence))
    scaled = share / share.max() * allowed.max()
    rounded = [float(allowed[np.argmin(np.abs(allowed - s))]) for s in scaled]
    alone = [float(allowed.max()) if i == int(np.argmax(share)) else float(allowed.min())
             for i in range(len(relaxed))]
    out = []
    for values in (rounded, alone):
        config = c.configuration(space, dict(zip(relaxed, values, strict=True)))
        if config not in out:
            out.append(config)
    return tuple(out)
