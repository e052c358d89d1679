"""One-shot (differentiable) search over recsearch's own spaces.

One supernet training, then configurations of the same space.

:func:`search` relaxes the hyperparameters a method understands into architecture weights of a
supernet built on :mod:`recsearch.objectives`, trains it, and derives configurations; every other
hyperparameter is held at the space's default (``OneShotResult.held``). Its cost is reported in
epoch-equivalents: the supernet's epochs times its FLOPs per sample over the base model's (the
space's default configuration), both from :func:`recsearch.objectives.cost.static_cost`.

Methods (:func:`available` lists each with the presets it relaxes):

- ``autofis-oneshot``: a batch-normalised, gated term per field pair, GRDA on the gates;
- ``autodim-oneshot``: softmax weights over the candidate dimensions of every ``emb.<field>``,
  Gumbel-softmax with an annealed temperature, the weights trained on validation batches;
- ``darts``: a mixed operation over each pair's candidate functions (``.fn``) and a pair gate,
  or over each block node's candidate types with a softmax over its inputs (``autopi``,
  ``autoctr``), trained on validation batches;
- ``autogroup-oneshot``: Gumbel-softmax membership of every field in every group;
- ``autoloss-oneshot``: a controller over the loss mixture trained on validation.

Importing this package does not load torch (:func:`search` does); :mod:`recsearch.strategies`
never imports it.

Example:
    >>> from recsearch.data.synthetic import synthetic
    >>> from recsearch.spaces import preset
    >>> data = synthetic(2000, n_categorical=5, seed=0)
    >>> space = preset("autofis", data.schema)
    >>> result = search(space, data, method="autofis-oneshot", budget=1.0, device="cpu")
    >>> result.configurations[0].config_space is space
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

from recsearch.errors import InvalidParameterError
from recsearch.oneshot._result import OneShotResult

if TYPE_CHECKING:
    from ConfigSpace import ConfigurationSpace

    from recsearch.data.schema import Dataset
    from recsearch.spec import ModelSpec

__all__ = ["METHODS", "Method", "OneShotResult", "available", "search"]

Method = Literal[
    "autofis-oneshot", "autodim-oneshot", "darts", "autogroup-oneshot", "autoloss-oneshot"
]

METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "autofis-oneshot": (
        "AutoFIS: a gate per field pair on batch-normalised terms, trained with the model, "
        "GRDA sets useless gates to zero.",
        ("autofis", "sif", "autofeature", "aim", "full", "autoias"),
    ),
    "autodim-oneshot": (
        "AutoDim: Gumbel-softmax weights over each field's candidate dimensions (0 drops it), "
        "annealed temperature, weights trained on validation batches.",
        ("autodim", "aim", "full", "autoias"),
    ),
    "darts": (
        "DARTS: a mixed operation over each pair's candidate functions plus a pair gate, or "
        "over each block node's types with a softmax over its inputs, architecture weights "
        "trained on validation batches (first order).",
        ("sif", "autofeature", "aim", "full", "autoias", "autopi", "autoctr"),
    ),
    "autogroup-oneshot": (
        "AutoGroup: Gumbel-softmax membership of every field in every group of order 2 and 3, "
        "trained on validation batches (first order).",
        ("autogroup",),
    ),
    "autoloss-oneshot": (
        "AutoLoss: a controller over the loss mixture, moved by how each loss's gradient aligns "
        "with the validation logloss's (one-step look-ahead).",
        ("autoloss", "full"),
    ),
}
"""Method name -> (description, presets whose spaces it relaxes)."""


def available() -> dict[str, tuple[str, tuple[str, ...]]]:
    """One-shot method names with their description and the presets each relaxes.

    Example:
        >>> sorted(available())
        ['autodim-oneshot', 'autofis-oneshot', 'autogroup-oneshot', 'autoloss-oneshot', 'darts']
    """
    return dict(METHODS)


def search(
    space: ConfigurationSpace,
    dataset: Dataset,
    *,
    method: Method,
    budget: float = 4.0,
    device: str = "auto",
    seed: int = 0,
    base: ModelSpec | None = None,
    options: dict[str, Any] | None = None,
) -> OneShotResult:
    """Train the supernet of ``method`` on ``space`` and derive configurations of ``space``.

    Args:
        space: A recsearch space (a preset or composed builders).
        dataset: Train and validation splits (the search never reads the test split).
        method: A name from :func:`available`.
        budget: Supernet epochs.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        seed: Seeds initialisation, shuffling and Gumbel noise; on the CPU one seed gives one
            result.
        base: The spec supplying what the space does not search (as for
            :class:`~recsearch.objectives.CTRObjective`); ``None``: the space's default base.
        options: Method settings (``autofis-oneshot``: ``gate_lr``, ``grda_c``, ``grda_mu``,
            ``init``, ``n_configs``; ``autodim-oneshot``: ``arch_lr``, ``tau_start``,
            ``tau_end``, ``warmup``; ``darts``: ``arch_lr``, ``warmup``, ``n_configs``).

    Returns:
        The derived configurations, the architecture weights, the held hyperparameters, the
        epochs, epoch-equivalents and wall time.

    Raises:
        InvalidParameterError: Unknown method or a bad budget.
        SpaceError: The method relaxes nothing in ``space`` (the message names the parameters).
    """
    from recsearch.objectives.trainer import resolve_device

    if method not in METHODS:
        raise InvalidParameterError(
            f"The 'method' parameter of recsearch.oneshot.search must be a str among "
            f"{tuple(METHODS)}. Got {method!r} instead."
        )
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget > 0:
        raise InvalidParameterError(
            "The 'budget' parameter of recsearch.oneshot.search must be a positive number of "
            f"supernet epochs. Got {budget!r} instead."
        )
    dev = resolve_device(device)
    if method == "autofis-oneshot":
        from recsearch.oneshot import _autofis as module
    elif method == "autodim-oneshot":
        from recsearch.oneshot import _autodim as module  # type: ignore[no-redef]
    elif method == "darts":
        from recsearch.oneshot import _darts as module  # type: ignore[no-redef]
    elif method == "autogroup-oneshot":
        from recsearch.oneshot import _autogroup as module  # type: ignore[no-redef]
    else:
        from recsearch.oneshot import _autoloss as module  # type: ignore[no-redef]
    from recsearch.oneshot._common import Request

    request = Request(space, dataset, float(budget), dev, int(seed), base, dict(options or {}))
    return module.search(request)
