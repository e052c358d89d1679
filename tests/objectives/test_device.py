"""The device path: mixed precision on the CPU, and on CUDA (``-m gpu``, skipped without it)
training whose batches never leave the device."""

from __future__ import annotations

import math

import pytest
import torch

from recsearch.errors import InvalidParameterError
from recsearch.objectives import Budget
from recsearch.objectives import Recipe
from recsearch.objectives import train
from recsearch.objectives import trainer as trainer_module
from recsearch.spec import TrainingSpec
from recsearch.spec import baseline

CUDA = torch.cuda.is_available()
gpu = [pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs a CUDA device")]
FAST = Budget(epochs=1.0, eval_every=0.5, recipe=Recipe(min_steps=0))


def _spec(schema, **training):
    return baseline("deepfm", schema, training=TrainingSpec(batch_size=64, lr=0.01, **training))


def test_bf16_autocast_trains_on_the_cpu(make_dataset) -> None:
    ds = make_dataset(2000)
    result = train(_spec(ds.schema, mixed_precision="bf16"), ds, FAST, device="cpu",
                   measure=False)
    assert result.valid_auc > 0.6 and math.isfinite(result.valid_logloss)


def test_fp16_needs_cuda(make_dataset) -> None:
    ds = make_dataset(300)
    if CUDA:
        pytest.skip("CUDA present: fp16 is allowed")
    with pytest.raises(InvalidParameterError, match="fp16"):
        train(_spec(ds.schema, mixed_precision="fp16"), ds, FAST, device="cpu")
    with pytest.raises(InvalidParameterError, match="mixed_precision"):
        TrainingSpec(mixed_precision="fp8")  # type: ignore[arg-type]


def test_cuda_is_refused_in_one_line_without_it() -> None:
    if CUDA:
        pytest.skip("CUDA present")
    from recsearch.objectives import resolve_device

    with pytest.raises(InvalidParameterError, match="CUDA is absent") as info:
        resolve_device("cuda:0")
    assert "\n" not in str(info.value)


def _on_device_stream(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = trainer_module.stream

    def checked(*args, **kwargs):
        for step in real(*args, **kwargs):
            if step.batch is not None:
                seen.extend({t.device.type for t in step.batch.values()
                             if isinstance(t, torch.Tensor)})
            yield step

    monkeypatch.setattr(trainer_module, "stream", checked)
    return seen


def test_every_batch_lives_on_the_trial_device_cpu(make_dataset, monkeypatch) -> None:
    seen = _on_device_stream(monkeypatch)
    ds = make_dataset(600)
    train(_spec(ds.schema), ds, FAST, device="cpu", measure=False)
    assert seen and set(seen) == {"cpu"}


@pytest.mark.parametrize("precision", ["off", "bf16", "fp16"])
@gpu[0]
@gpu[1]
def test_trains_on_cuda_with_batches_on_the_device(make_dataset, monkeypatch, precision) -> None:
    seen = _on_device_stream(monkeypatch)
    ds = make_dataset(3000)
    result = train(_spec(ds.schema, mixed_precision=precision), ds, FAST, device="cuda",
                   measure=True, evaluate_test=True)
    assert result.device.startswith("cuda")
    assert seen and set(seen) == {"cuda"}
    assert result.valid_auc > 0.6 and math.isfinite(result.test_auc)
    assert result.first_step_seconds > 0 and result.build_seconds > 0
