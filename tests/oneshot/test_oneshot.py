"""One-shot search: the issue's bars on planted data, held parameters, errors, seeding."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from _oneshot_support import fm_base
from _oneshot_support import planted

from recsearch import oneshot
from recsearch.errors import InvalidParameterError
from recsearch.errors import SpaceError
from recsearch.spaces import preset
from recsearch.strategies._cs import is_valid


def _planted_names(ds) -> set[str]:  # type: ignore[no-untyped-def]
    return {"inter." + "-".join(p) for p in ds.info["ground_truth"]["pairs"]}


def test_autofis_oneshot_selects_the_planted_pairs_within_five_epoch_equivalents() -> None:
    ds = planted(10_000, 10, 2)
    space = preset("autofis", ds.schema)
    result = oneshot.search(
        space, ds, method="autofis-oneshot", budget=4.0, device="cpu", seed=0,
        base=fm_base(space),
    )
    truth = _planted_names(ds)
    chosen = {name for name, on in result.best.items() if on}
    assert len(chosen & truth) >= 0.8 * len(truth), (sorted(chosen), sorted(truth))
    assert len(chosen - truth) <= 2, sorted(chosen - truth)
    assert result.epoch_equivalents <= 5.0
    assert result.epoch_equivalents == pytest.approx(result.epochs * result.flops_ratio)
    assert result.flops_ratio > 1.0  # the gates and batch norm cost a little
    assert result.held == ()
    assert all(c.config_space is space for c in result.configurations)
    assert len({tuple(sorted(dict(c).items())) for c in result.configurations}) == len(
        result.configurations
    )


def test_autofis_oneshot_holds_the_functions_of_sif_at_their_defaults() -> None:
    ds = planted(3000, 5, 0)
    space = preset("sif", ds.schema)
    result = oneshot.search(space, ds, method="autofis-oneshot", budget=0.5, device="cpu")
    fns = [n for n in space if n.endswith(".fn")]
    assert sorted(result.held) == sorted(fns)
    for config in result.configurations:
        assert is_valid(space, config.get_array())
        for name in fns:
            value = config.get(name)
            assert value is None or value == space[name].default_value


def test_autodim_oneshot_shrinks_or_drops_the_noise_fields() -> None:
    ds = planted(20_000, 10, 0, noise_fraction=0.4)
    space = preset("autodim", ds.schema)
    result = oneshot.search(
        space, ds, method="autodim-oneshot", budget=3.0, device="cpu", seed=0,
        base=fm_base(space),
    )
    truth = ds.info["ground_truth"]
    noise = [f for f in ds.schema.sparse_names if truth["field_weights"][f] == 0]
    paired = {f for pair in truth["pairs"] for f in pair}
    dims = result.info["dims"]
    assert noise and paired
    noise_dims = [dims[f"emb.{f}"] for f in noise]
    paired_dims = [dims[f"emb.{f}"] for f in paired]
    # NOTE: measured: noise fields 2-4 (or 0), fields in planted pairs 16 but for the one in a
    # single weak pair (4); the default dimension is 16.
    assert max(noise_dims) <= 4 and np.median(noise_dims) < np.median(paired_dims), dims
    assert np.mean(noise_dims) <= 0.5 * np.mean(paired_dims), dims
    assert set(result.weights) == {f"emb.{f}" for f in ds.schema.sparse_names}


def test_one_seed_gives_one_result_on_the_cpu() -> None:
    ds = planted(3000, 5, 0)
    space = preset("autofis", ds.schema)
    runs = [
        oneshot.search(space, ds, method="autofis-oneshot", budget=0.5, device="cpu", seed=3)
        for _ in range(2)
    ]
    assert runs[0].weights == runs[1].weights
    assert runs[0].configurations == runs[1].configurations


@pytest.mark.parametrize(
    ("method", "preset_name", "named"),
    [
        ("autofis-oneshot", "hpo", "train.lr"),
        ("autodim-oneshot", "autofis", "inter.c0-c1"),
        ("autodim-oneshot", "nis", "emb.c0"),
    ],
)
def test_a_space_it_cannot_relax_is_refused_naming_the_parameters(
    method: str, preset_name: str, named: str
) -> None:
    ds = planted(3000, 5, 0)
    space = preset(preset_name, ds.schema)
    with pytest.raises(SpaceError, match=named):
        oneshot.search(
            space, ds, method=method, budget=0.5, device="cpu"  # type: ignore[arg-type]
        )


def test_bad_method_and_budget_are_named() -> None:
    ds = planted(3000, 5, 0)
    space = preset("autofis", ds.schema)
    with pytest.raises(InvalidParameterError, match="'method'.*autofis-oneshot"):
        oneshot.search(space, ds, method="autopi-oneshot", budget=1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'budget'"):
        oneshot.search(space, ds, method="autofis-oneshot", budget=0)


def test_listing_the_methods_loads_no_torch_and_strategies_never_load_oneshot() -> None:
    code = (
        "import sys, recsearch.oneshot as o;"
        "print('torch' in sys.modules, ','.join(sorted(o.available())))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    listed = "autodim-oneshot,autofis-oneshot,autogroup-oneshot,autoloss-oneshot,darts"
    assert out.stdout.split() == ["False", listed], out
    code = "import sys, recsearch.strategies; print('recsearch.oneshot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_split_sizes_finds_the_break_a_single_gap_misses() -> None:
    from recsearch.oneshot._autofis import split_sizes

    # one strong pair far above three good ones, then a noise tail
    alpha = np.array([2.0, 0.9, 0.8, 0.75] + [0.1, 0.08, 0.05, 0.04, 0.0, 0.0] * 4)
    assert split_sizes(alpha)[0] == 4


def test_darts_finds_the_planted_pairs_with_a_product_function() -> None:
    ds = planted(20_000, 10, 3)
    space = preset("autofeature", ds.schema)
    result = oneshot.search(
        space, ds, method="darts", budget=4.0, device="cpu", seed=0, base=fm_base(space)
    )
    truth = _planted_names(ds)
    chosen = set(result.info["selected"])
    # NOTE: measured: the 4 planted pairs and 1 other; planted pairs are <p_a, p_b> products,
    # which inner, hadamard and outer express and plus or concat only approximate.
    assert truth <= chosen and len(chosen - truth) <= 2, (sorted(chosen), sorted(truth))
    product = {"inner", "hadamard", "outer"}
    assert sum(result.info["functions"][n] in product for n in truth) >= len(truth) - 1
    best = result.best
    assert all(best.get(f"{n}.fn") == result.info["functions"][n] for n in chosen)
    assert result.held == ()


def test_autogroup_oneshot_puts_planted_pairs_in_one_order_two_group() -> None:
    from recsearch.spaces import decode

    ds = planted(20_000, 10, 3)
    space = preset("autogroup", ds.schema)
    result = oneshot.search(
        space, ds, method="autogroup-oneshot", budget=3.0, device="cpu", seed=0,
        base=fm_base(space),
    )
    truth = ds.info["ground_truth"]
    order2 = [set(v) for k, v in result.info["groups"].items() if k.startswith("o2")]
    covered = [any(set(p) <= g for g in order2) for p in truth["pairs"]]
    # NOTE: measured 4 of 4 (3 of 4 at arch_lr 0.05); noise fields in no group.
    assert sum(covered) >= 0.75 * len(covered), (order2, truth["pairs"])
    noise = [f for f in ds.schema.sparse_names if truth["field_weights"][f] == 0]
    groups = [set(v) for v in result.info["groups"].values()]
    assert sum(f in g for f in noise for g in groups) <= len(noise)
    spec = decode(result.best, ds.schema)
    assert spec.interaction is not None and spec.interaction.groups
    # NOTE: the preset's default is one group of every field; the supernet computes all 8
    # (about 10x its FLOPs), so the search costs about 13 epoch-equivalents an epoch.
    assert result.epoch_equivalents == pytest.approx(result.epochs * result.flops_ratio)
    assert result.flops_ratio > 1.0


def test_autoloss_oneshot_favours_the_log_loss_on_logistic_data() -> None:
    ds = planted(10_000, 8, 1)
    space = preset("autoloss", ds.schema)
    result = oneshot.search(
        space, ds, method="autoloss-oneshot", budget=2.0, device="cpu", seed=0,
        base=fm_base(space),
    )
    mixture = result.info["mixture"]
    # NOTE: the labels are Bernoulli draws of a logistic model, so BCE is the proper loss;
    # measured share 0.77 (seed 0) and 0.93 (seed 1), focal 0.002.
    assert max(mixture, key=mixture.get) == "bce" and mixture["bce"] > 0.5, mixture
    assert result.best["loss.bce"] == max(space["loss.bce"].sequence)
    assert result.held == ("loss.focal_gamma",)
    assert result.flops_ratio > 1.0
