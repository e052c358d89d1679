"""The budgeted trainer: a spec and a data set in, validation and test metrics out.

The splits move to the device once. Each epoch draws one permutation, reorders the training
tensors with it once, and slices batches from the reordered copies: no per-sample Python and no
host-to-device copy per batch. Evaluation runs after every ``Budget.eval_every`` epochs (and at the
end); the ``report`` callback sees each evaluation and may raise (``optuna.TrialPruned``) to stop
training. Test metrics are computed with the weights of the best (lowest validation logloss)
evaluation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Literal

import torch
import torch.nn.functional as F

from recsearch.errors import InvalidParameterError
from recsearch.errors import MemoryCapError
from recsearch.errors import NonFiniteLossError
from recsearch.objectives._plan import model_plan
from recsearch.objectives.cost import Cost
from recsearch.objectives.cost import measure_latency
from recsearch.objectives.cost import nonzero_embedding_params
from recsearch.objectives.cost import parameter_count
from recsearch.objectives.cost import training_bytes
from recsearch.objectives.metrics import auc
from recsearch.objectives.metrics import logloss
from recsearch.objectives.model import CTRModel
from recsearch.objectives.model import build_model

if TYPE_CHECKING:
    from recsearch.data.schema import Dataset
    from recsearch.data.schema import Split
    from recsearch.objectives.embeddings import Batch
    from recsearch.spec import LossSpec
    from recsearch.spec import ModelSpec
    from recsearch.spec import TrainingSpec

Report = Callable[[float, float, float], None]
"""``report(step, valid_auc, valid_logloss)``; ``step`` is the number of epochs trained so far."""

DEFAULT_MEMORY_FRACTION = 0.5
"""Default memory cap: this fraction of the memory available on the device."""
EVAL_BATCH_ROWS = 65536
LATENCY_ROWS = 1000


@dataclass(frozen=True)
class Budget:
    """How much training a call may spend.

    Attributes:
        epochs: Passes over the training rows (fractional allowed); replaces
            ``spec.training.epochs`` when given.
        rows: Training rows to process at most (a fidelity in rows rather than epochs).
        eval_every: Epochs between evaluations (``0.25``: four reports per epoch).

    Example:
        >>> Budget(epochs=0.5, eval_every=0.25).eval_every
        0.25
    """

    epochs: float | None = None
    rows: int | None = None
    eval_every: float = 1.0

    def __post_init__(self) -> None:
        if self.epochs is not None and not 0 < self.epochs < math.inf:
            raise InvalidParameterError(
                f"The 'epochs' parameter of Budget must be a finite number > 0. "
                f"Got {self.epochs!r} instead."
            )
        if self.rows is not None and not 0 < self.rows < math.inf:
            raise InvalidParameterError(
                f"The 'rows' parameter of Budget must be a finite number > 0. "
                f"Got {self.rows!r} instead."
            )
        if not self.eval_every > 0:
            raise InvalidParameterError(
                f"The 'eval_every' parameter of Budget must be > 0. Got {self.eval_every!r} "
                "instead."
            )

    def total_rows(self, training: TrainingSpec, n_train: int) -> int:
        """Training rows to process: the budget's epochs (else the spec's), capped by ``rows``."""
        epochs = self.epochs if self.epochs is not None else training.epochs
        total = max(1, round(epochs * n_train))
        if self.rows is not None:
            total = min(total, int(self.rows))
        return total


@dataclass(frozen=True)
class StepRecord:
    """One evaluation during training.

    Attributes:
        step: Epochs trained so far.
        rows: Training rows processed so far.
        train_loss: Mean training loss since the previous evaluation.
        valid_auc: Validation AUC.
        valid_logloss: Validation logloss.
        seconds: Wall time since training started.
    """

    step: float
    rows: int
    train_loss: float
    valid_auc: float
    valid_logloss: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced.

    Attributes:
        valid_auc: Validation AUC at the best evaluation.
        valid_logloss: Lowest validation logloss.
        test_auc: Test AUC with the best weights.
        test_logloss: Test logloss with the best weights.
        history: Every evaluation in order.
        epochs_run: Epochs actually trained (fractional; early stopping shortens it).
        cost: Size and latency of the model.
        best_step: ``step`` of the best evaluation.
        train_seconds: Wall time of the training steps (evaluations excluded).
        samples_per_second: Training rows per second of ``train_seconds``.
        device: Device the model ran on.

    Example:
        >>> result = train(baseline("fm"), dataset, 1.0)  # doctest: +SKIP
        >>> result.valid_auc > 0.5  # doctest: +SKIP
        True
    """

    valid_auc: float
    valid_logloss: float
    test_auc: float
    test_logloss: float
    history: tuple[StepRecord, ...]
    epochs_run: float
    cost: Cost
    best_step: float
    train_seconds: float
    samples_per_second: float
    device: str

    def metrics(self) -> dict[str, float]:
        """The final metrics under the user-attribute names of :mod:`recsearch.hooks`."""
        return {
            "valid_auc": self.valid_auc,
            "valid_logloss": self.valid_logloss,
            "test_auc": self.test_auc,
            "test_logloss": self.test_logloss,
        }


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` means CUDA when available, else the CPU.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(f"device={str(device)!r} was asked for but CUDA is absent.")
    return dev


def available_memory(device: torch.device) -> int:
    """Bytes free on ``device`` (``MemAvailable`` of /proc/meminfo for the CPU)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover
        return 1 << 62


def check_memory(
    spec: ModelSpec, schema: Dataset | object, cap: int | None, device: torch.device
) -> int:
    """Refuse a spec whose embedding tables would need more than ``cap`` bytes to train.

    Args:
        spec: The spec.
        schema: The data schema.
        cap: Bytes allowed; ``None``: ``DEFAULT_MEMORY_FRACTION`` of the free memory.
        device: Where the model would live.

    Returns:
        The estimated bytes.

    Raises:
        MemoryCapError: Over the cap; the message names the largest fields.
    """
    need = training_bytes(spec, schema)  # type: ignore[arg-type]
    limit = int(DEFAULT_MEMORY_FRACTION * available_memory(device)) if cap is None else int(cap)
    if need > limit:
        plan = model_plan(spec, schema)  # type: ignore[arg-type]
        biggest = sorted(plan.embedding.fields, key=lambda f: -f.vocab * f.width)[:5]
        sizes = ", ".join(f"{f.name}: {f.vocab:,} x {list(f.dims)}" for f in biggest)
        raise MemoryCapError(
            f"Spec {spec.name!r} needs about {need / 2**20:,.1f} MiB for its embedding tables "
            f"(weights, gradients, {spec.training.optimizer} state) but the memory cap is "
            f"{limit / 2**20:,.1f} MiB. Largest fields (vocab x dims): {sizes}."
        )
    return need


def _tensors(split: Split, device: torch.device) -> dict[str, torch.Tensor | list[torch.Tensor]]:
    return {
        "categorical": torch.from_numpy(split.categorical).to(device, torch.long),
        "numeric": torch.from_numpy(split.numeric).to(device, torch.float32),
        "multi_hot": [torch.from_numpy(m).to(device, torch.long) for m in split.multi_hot],
        "sequence": [torch.from_numpy(m).to(device, torch.long) for m in split.sequence],
        "label": torch.from_numpy(split.label).to(device, torch.float32),
    }


def _take(data: dict, index: torch.Tensor | slice) -> dict:
    if isinstance(index, slice):
        return {
            k: [m[index] for m in v] if isinstance(v, list) else v[index]
            for k, v in data.items()
        }
    return {
        k: [m.index_select(0, index) for m in v]
        if isinstance(v, list)
        else v.index_select(0, index)
        for k, v in data.items()
    }


def mixture_loss(logit: torch.Tensor, label: torch.Tensor, spec: LossSpec) -> torch.Tensor:
    """The weighted loss mixture of ``spec`` (BCE, focal, hinge, squared error on p).

    Example:
        >>> from recsearch.spec import LossSpec
        >>> float(mixture_loss(torch.zeros(2), torch.tensor([0.0, 1.0]), LossSpec())) > 0
        True
    """
    if spec.active == ("bce",):
        return spec.bce * F.binary_cross_entropy_with_logits(logit, label)
    total = logit.new_zeros(())
    bce = F.binary_cross_entropy_with_logits(logit, label, reduction="none")
    if spec.bce > 0:
        total = total + spec.bce * bce.mean()
    if spec.focal > 0:
        pt = torch.exp(-bce)
        total = total + spec.focal * ((1.0 - pt).pow(spec.focal_gamma) * bce).mean()
    if spec.hinge > 0:
        total = total + spec.hinge * torch.relu(1.0 - (2.0 * label - 1.0) * logit).mean()
    if spec.mse > 0:
        total = total + spec.mse * (torch.sigmoid(logit) - label).pow(2).mean()
    return total


def make_optimizer(
    model: CTRModel, training: TrainingSpec, device: torch.device
) -> torch.optim.Optimizer:
    """The spec's optimizer with separate weight decay for embeddings and dense weights."""
    emb = model.embedding_parameters()
    emb_ids = {id(p) for p in emb}
    dense = [p for p in model.parameters() if id(p) not in emb_ids]
    groups = [
        {"params": emb, "weight_decay": training.embedding_weight_decay},
        {"params": dense, "weight_decay": training.dense_weight_decay},
    ]
    groups = [g for g in groups if g["params"]]
    if training.optimizer == "adam":
        return torch.optim.Adam(groups, lr=training.lr, fused=True)
    if training.optimizer == "adagrad":
        return torch.optim.Adagrad(groups, lr=training.lr, fused=device.type == "cpu" or None)
    return torch.optim.SGD(groups, lr=training.lr, momentum=training.momentum, fused=True)


def _clip(params: list[torch.nn.Parameter], max_norm: float, sync: bool) -> None:
    """Clip the gradient norm to ``max_norm``.

    Where a host sync is free (CPU), the gradients are rescaled only when the norm exceeds the
    bound: rescaling by 1 would cost a pass over every embedding gradient each step.
    """
    if not sync:
        torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
        return
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads, foreach=True)
    if float(norm) > max_norm:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm, foreach=True)


def _predict(model: CTRModel, data: dict, rows: int) -> torch.Tensor:
    outs = []
    with torch.inference_mode():
        for start in range(0, rows, EVAL_BATCH_ROWS):
            outs.append(model(_take(data, slice(start, start + EVAL_BATCH_ROWS)))["logit"])
    return torch.cat(outs) if outs else torch.zeros(0)


def _evaluate(model: CTRModel, data: dict, rows: int) -> tuple[float, float]:
    if rows == 0:
        return math.nan, math.nan
    was = model.training
    model.eval()
    logits = _predict(model, data, rows).float()
    model.train(was)
    label = data["label"]
    assert isinstance(label, torch.Tensor)
    return auc(logits, label), logloss(logits, label)


def train(
    spec: ModelSpec,
    dataset: Dataset,
    budget: Budget | float | None = None,
    *,
    device: Literal["auto", "cpu", "cuda"] | str = "auto",
    seed: int = 0,
    report: Report | None = None,
    memory_cap: int | None = None,
    measure: bool = True,
    pretrained: Mapping[str, torch.Tensor] | None = None,
) -> TrainResult:
    """Train ``spec`` on ``dataset`` within ``budget`` and return its metrics and costs.

    Args:
        spec: The model spec.
        dataset: Train, valid and test splits.
        budget: A :class:`Budget`, a number of epochs, or ``None`` for ``spec.training.epochs``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        seed: Seeds initialisation, dropout and shuffling; on the CPU a seed gives identical
            metrics run after run.
        report: Called as ``report(step, valid_auc, valid_logloss)`` after each evaluation;
            whatever it raises propagates (``optuna.TrialPruned`` stops training).
        memory_cap: Bytes the embedding tables may use while training; ``None``: half the free
            memory of the device.
        measure: Measure inference latency on 1,000 validation rows.
        pretrained: Start from this state of the same spec (AutoFT; ``spec.finetune`` says
            what stays frozen).

    Returns:
        The metrics at the best evaluation, the history and the cost.

    Raises:
        NonFiniteLossError: The training loss (or the validation logits) became NaN or infinite.
        MemoryCapError: The embedding tables would not fit under the cap; nothing was allocated.
        InvalidParameterError: Bad budget or device, or a spec that does not fit the schema.

    Example:
        >>> budget = Budget(epochs=2, eval_every=0.5)
        >>> result = train(baseline("deepfm"), dataset, budget)  # doctest: +SKIP
        >>> [r.step for r in result.history]  # doctest: +SKIP
        [0.5, 1.0, 1.5, 2.0]
    """
    if budget is None:
        budget = Budget()
    elif isinstance(budget, int | float) and not isinstance(budget, bool):
        budget = Budget(epochs=float(budget))
    elif not isinstance(budget, Budget):
        raise InvalidParameterError(
            f"The 'budget' parameter of train must be a Budget, a number of epochs or None. "
            f"Got {budget!r} instead."
        )
    dev = resolve_device(device)
    schema = dataset.schema
    check_memory(spec, schema, memory_cap, dev)
    n = len(dataset.train)
    if n == 0:
        raise InvalidParameterError(f"Dataset {dataset.name!r} has no training rows.")
    torch.manual_seed(seed)
    model = build_model(spec, schema, pretrained=pretrained).to(dev)
    model.train()
    opt = make_optimizer(model, spec.training, dev)
    params = [p for p in model.parameters() if p.requires_grad]
    clip = spec.training.grad_clip
    train_data = _tensors(dataset.train, dev)
    valid_data = _tensors(dataset.valid, dev)
    n_valid = len(dataset.valid)
    gen = torch.Generator().manual_seed(seed)
    total = budget.total_rows(spec.training, n)
    every = max(1, round(budget.eval_every * n))
    bs = spec.training.batch_size
    drop_single = spec.head.batch_norm
    check_each_step = dev.type == "cpu"
    patience = spec.training.patience

    history: list[StepRecord] = []
    best_loss = math.inf
    best_auc = math.nan
    best_step = 0.0
    best_state: dict[str, torch.Tensor] | None = None
    bad = 0
    done = 0
    next_eval = every
    loss_sum = torch.zeros((), device=dev)
    loss_count = 0
    non_finite = torch.zeros((), dtype=torch.bool, device=dev)
    train_seconds = 0.0
    start_time = time.perf_counter()
    stop = False
    while not stop and done < total:
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen).to(dev)
        epoch = _take(train_data, perm)
        train_seconds += time.perf_counter() - t0
        pos = 0
        while pos < n and not stop and done < total:
            t0 = time.perf_counter()
            end = min(pos + bs, n, pos + (total - done), pos + (next_eval - done))
            if not (drop_single and end - pos < 2):
                batch = _take(epoch, slice(pos, end))
                logit = model(batch)["logit"]
                loss = mixture_loss(logit, batch["label"], spec.loss)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if check_each_step:
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise NonFiniteLossError(
                            f"Spec {spec.name!r}: the training loss became {value} after "
                            f"{done:,} rows ({done / n:.3f} epochs); the trial failed."
                        )
                else:
                    non_finite |= ~torch.isfinite(loss.detach())
                if clip > 0:
                    _clip(params, clip, check_each_step)
                opt.step()
                loss_sum += loss.detach()
                loss_count += 1
            done += end - pos
            pos = end
            train_seconds += time.perf_counter() - t0
            if done >= next_eval or done >= total:
                next_eval = done + every
                if not check_each_step and bool(non_finite):
                    raise NonFiniteLossError(
                        f"Spec {spec.name!r}: the training loss became non-finite before "
                        f"{done:,} rows ({done / n:.3f} epochs); the trial failed."
                    )
                v_auc, v_loss = _evaluate(model, valid_data, n_valid)
                if n_valid and not math.isfinite(v_loss):
                    raise NonFiniteLossError(
                        f"Spec {spec.name!r}: the validation logloss became {v_loss} after "
                        f"{done / n:.3f} epochs; the trial failed."
                    )
                step = done / n
                train_loss = float(loss_sum) / max(loss_count, 1)
                loss_sum.zero_()
                loss_count = 0
                history.append(
                    StepRecord(step, done, train_loss, v_auc, v_loss,
                               time.perf_counter() - start_time)
                )
                if v_loss < best_loss or best_state is None:
                    if v_loss < best_loss:
                        bad = 0
                    best_loss, best_auc, best_step = v_loss, v_auc, step
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad += 1
                if report is not None:
                    report(step, v_auc, v_loss)
                if patience > 0 and bad >= patience:
                    stop = True

    assert best_state is not None
    model.load_state_dict(best_state)
    test_data = _tensors(dataset.test, dev)
    t_auc, t_loss = _evaluate(model, test_data, len(dataset.test))
    plan = model.plan
    latency = math.nan
    if measure and n_valid:
        latency = measure_latency(model, _take(valid_data, slice(0, LATENCY_ROWS)))
    cost = Cost(
        parameter_count(model), plan.embedding_bytes, plan.flops, latency,
        nonzero_embedding_params(model),
    )
    return TrainResult(
        valid_auc=best_auc,
        valid_logloss=best_loss,
        test_auc=t_auc,
        test_logloss=t_loss,
        history=tuple(history),
        epochs_run=done / n,
        cost=cost,
        best_step=best_step,
        train_seconds=train_seconds,
        samples_per_second=done / train_seconds if train_seconds > 0 else math.nan,
        device=str(dev),
    )


def batch_of(split: Split, device: str | torch.device = "cpu") -> Batch:
    """A whole split as a model batch (for inspection and tests).

    Example:
        >>> model(batch_of(dataset.valid))["logit"].shape  # doctest: +SKIP
        torch.Size([1000])
    """
    data = _tensors(split, torch.device(device))
    data.pop("label")
    return data
