"""``darts`` over block types: autopi's cell and autoctr's DAG relaxed, derived, valid."""

from __future__ import annotations

import pytest
import torch

from recsearch import oneshot
from recsearch.data.synthetic import synthetic
from recsearch.objectives.model import build_model
from recsearch.oneshot import _darts_blocks as blocks
from recsearch.spaces import decode
from recsearch.spaces import preset


def _data(numeric: int = 2):  # type: ignore[no-untyped-def]
    return synthetic(2000, n_categorical=5, n_numeric=numeric, max_vocab=50, seed=0)


@pytest.mark.parametrize("name", ["autopi", "autoctr"])
def test_darts_derives_valid_configurations_of_a_block_space(name: str) -> None:
    ds = _data()
    space = preset(name, ds.schema)
    result = oneshot.search(space, ds, method="darts", budget=0.3, device="cpu", seed=0)
    assert result.configurations and all(c.config_space is space for c in result.configurations)
    for config in result.configurations:
        config.check_valid_configuration()  # conditions and forbidden clauses
        spec = decode(config, ds.schema)
        build_model(spec, ds.schema)  # the DAG's shapes fit
    best = result.best
    n = len(blocks.nodes(space))
    assert result.info["blocks"] == {f"block.{i}.type": best[f"block.{i}.type"] for i in range(n)}
    assert result.info["inputs"] == {f"block.{i}.main": best[f"block.{i}.main"] for i in range(n)}
    for i in range(n):
        types = result.weights[f"block.{i}.type"]
        assert set(types) <= set(space[f"block.{i}.type"].choices)
        assert types[best[f"block.{i}.type"]] >= max(types.values()) - 1e-4  # shown rounded
        assert sum(types.values()) == pytest.approx(1.0, abs=1e-3)
    # the type settings and the head are held; types and inputs are not
    held = set(result.held)
    assert not any(h.endswith((".type", ".main")) for h in held)
    assert "block.0.heads" in held and "block.1.units" in held
    assert ("mlp.depth" in held) == ("mlp.depth" in space)
    # every candidate of every node costs: well above the base's FLOPs
    assert result.flops_ratio > 1.5
    assert result.epoch_equivalents == pytest.approx(result.epochs * result.flops_ratio)


def test_the_derivation_follows_the_weights() -> None:
    ds = _data(numeric=0)
    space = preset("autopi", ds.schema)
    cell = blocks.MixedCell(space, m=5, dim=4, n_dense=0)
    with torch.no_grad():
        for k in range(4):
            cell.beta[k].zero_()
            cell.alpha[k].zero_()
        cell.beta[0][cell.types[0].index("fm")] = 2.0
        cell.beta[1][cell.types[1].index("fm")] = 3.0
        cell.beta[1][cell.types[1].index("conv")] = 2.9  # the closest call: switched in #3
        cell.alpha[1][cell.sources[1].index("b0")] = 2.0  # second: sparse (stable order)
        cell.beta[2][cell.types[2].index("attention")] = 1.0
        cell.beta[3][cell.types[3].index("skip")] = 1.0
        cell.alpha[3][cell.sources[3].index("b1")] = 1.0
        cell.alpha[3][cell.sources[3].index("b2")] = 0.5
    pick, alone, switched = blocks.derive(cell, 3)
    assert [pick[f"block.{i}.type"] for i in range(4)] == ["fm", "fm", "attention", "skip"]
    assert pick["block.1.main"] == "b0" and pick["block.3.main"] == "b1"
    assert pick["block.1.sparse"] is True and pick["block.3.skip2"] is True  # 2nd inputs
    assert not any(k.endswith(("sparse", "dense")) or "skip" in k for k in alone)
    assert switched["block.1.type"] == "conv" and switched["block.0.type"] == "fm"
    assert switched["block.1.sparse"] is True
    from recsearch.oneshot._darts import _combine

    configs = _combine(space, [], [pick, alone, switched])
    assert len(configs) == 3
    assert decode(configs[1], ds.schema).blocks[1].inputs == (0,)
    assert not decode(configs[1], ds.schema).blocks[1].sparse_input
    spec = decode(configs[0], ds.schema)
    assert spec.blocks[1].type == "fm" and spec.blocks[1].inputs == (0,)
    assert spec.blocks[1].sparse_input and spec.blocks[3].inputs == (1, 2)


def test_the_mixed_cell_runs_every_type_on_the_embedding_view() -> None:
    ds = _data()
    space = preset("autoctr", ds.schema)
    cell = blocks.MixedCell(space, m=5, dim=8, n_dense=2)
    stacked = torch.randn(6, 5, 8)
    out = cell(torch.randn(6, 2), None, stacked, [])
    assert out.shape == (6, 7 * 5 * 8)
    out.sum().backward()
    assert all(p.grad is not None for p in cell.arch_parameters())


def test_a_space_with_pair_functions_and_blocks_relaxes_both_in_one_supernet() -> None:
    from recsearch.spaces.builders import blocks as blocks_space
    from recsearch.spaces.builders import compose
    from recsearch.spaces.builders import interaction_functions

    ds = _data(numeric=0)
    space = compose(
        inter=interaction_functions(ds.schema, functions=("inner", "hadamard")),
        block=blocks_space(ds.schema, n_blocks=2, types=("skip", "fm", "mlp")),
    )
    result = oneshot.search(space, ds, method="darts", budget=0.3, device="cpu", seed=0)
    settings = {n for n in space if n.rsplit(".", 1)[1] in ("dim", "depth", "units")}
    assert settings and set(result.held) == settings  # pairs, functions, types, inputs relaxed
    assert set(result.info) >= {"selected", "functions", "blocks", "inputs"}
    for config in result.configurations:
        config.check_valid_configuration()
        spec = decode(config, ds.schema)
        assert spec.interaction is not None and spec.blocks
        build_model(spec, ds.schema)
