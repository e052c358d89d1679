from __future__ import annotations

import numpy as np
import pytest
import torch

from recsearch.errors import InvalidParameterError
from recsearch.objectives import build_model
from recsearch.objectives import static_cost
from recsearch.objectives.interactions import GroupInteractions
from recsearch.objectives.interactions import fm_interaction
from recsearch.objectives.interactions import pairwise_inner
from recsearch.objectives.trainer import batch_of
from recsearch.spec import BASELINES
from recsearch.spec import PAIR_FUNCTIONS
from recsearch.spec import BlockSpec
from recsearch.spec import EmbeddingSpec
from recsearch.spec import FieldEmbedding
from recsearch.spec import FieldGroup
from recsearch.spec import HeadSpec
from recsearch.spec import InteractionSpec
from recsearch.spec import ModelSpec
from recsearch.spec import PairInteraction
from recsearch.spec import baseline


def _forward_backward(spec, ds):
    torch.manual_seed(0)
    model = build_model(spec, ds.schema)
    batch = batch_of(ds.valid)
    logit = model(batch)["logit"]
    assert logit.shape == (len(ds.valid),)
    assert torch.isfinite(logit).all()
    torch.nn.functional.binary_cross_entropy_with_logits(
        logit, torch.from_numpy(ds.valid.label)
    ).backward()
    return model


BLOCKS = [
    BlockSpec("mlp", dense_input=True, units=16, layers=2),
    BlockSpec("fm", dense_input=True, dim=6),
    BlockSpec("dot", dense_input=True),
    BlockSpec("efc", dense_input=True, dim=3),
    BlockSpec("cross", dense_input=True, layers=2, cross_version=1),
    BlockSpec("cross", dense_input=True, layers=2, cross_version=2),
    BlockSpec("attention", layers=2, heads=2, dim=8),
    BlockSpec("conv", dense_input=True, kernel=3),
]


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b.type}{b.cross_version}")
def test_every_block_has_shapes_and_gradients(make_dataset, block) -> None:
    ds = make_dataset(400)
    spec = ModelSpec(
        embedding=EmbeddingSpec(default_dim=4), linear=False, blocks=(block,), head=HeadSpec((8,))
    )
    model = _forward_backward(spec, ds)
    for name, p in model.blocks[0].named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert model.embeddings.tables[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("function", PAIR_FUNCTIONS)
def test_every_pair_function_has_shapes_and_gradients(make_dataset, function) -> None:
    ds = make_dataset(400)
    pairs = (
        PairInteraction(("c0", "c1"), function),
        PairInteraction(("c1", "m0"), function),
        PairInteraction(("c2", "c3"), function),
    )
    spec = ModelSpec(
        embedding=EmbeddingSpec(default_dim=4),
        linear=False,
        interaction=InteractionSpec(pairs=pairs),
        head=HeadSpec(()),
    )
    model = _forward_backward(spec, ds)
    for p in model.pairs.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert model.embeddings.tables[0].weight.grad.abs().sum() > 0


def test_pair_function_values_match_their_definitions() -> None:
    from recsearch.objectives.interactions import PairFunction

    torch.manual_seed(0)
    e = torch.randn(5, 3, 4)
    a, b = e[:, 0], e[:, 2]
    f = PairFunction("max", [(0, 2)], dim=4)
    assert torch.allclose(f(e), (torch.maximum(a, b) * f.weight[0]).sum(-1))
    f = PairFunction("outer", [(0, 2)], dim=4)
    expected = torch.einsum("bi,ij,bj->b", a, f.weight[0], b)
    assert torch.allclose(f(e), expected, atol=1e-6)
    assert torch.allclose(PairFunction("inner", [(0, 2)], dim=4)(e), (a * b).sum(-1))


def test_fm_square_of_sum_equals_the_pairwise_sum() -> None:
    torch.manual_seed(0)
    e = torch.randn(7, 6, 5, dtype=torch.float64)
    assert torch.allclose(fm_interaction(e), pairwise_inner(e))


def test_group_interaction_equals_its_formula() -> None:
    torch.manual_seed(0)
    e = torch.randn(4, 5, 3, dtype=torch.float64)
    m = GroupInteractions([(3, (0, 2, 4)), (2, (1, 3))], n_fields=5).double()
    g = e[:, [0, 2, 4]]
    third = (g.sum(1) ** 3 - (g**3).sum(1)).sum(-1)
    h = e[:, [1, 3]]
    second = (h.sum(1) ** 2 - (h**2).sum(1)).sum(-1)
    assert torch.allclose(m(e), third + second)
    # order 2 is twice the FM pairwise sum
    assert torch.allclose(second, 2 * pairwise_inner(h))


def test_mixed_dimensions_and_dropped_field(make_dataset) -> None:
    ds = make_dataset(400)
    emb = EmbeddingSpec(
        default_dim=4,
        fields=(
            FieldEmbedding("c0", (8,)),
            FieldEmbedding("c1", (2,)),
            FieldEmbedding("c3", (0,)),
        ),
        interaction_dim=6,
    )
    spec = ModelSpec(embedding=emb, interaction=InteractionSpec(), head=HeadSpec((8,)))
    model = build_model(spec, ds.schema)
    batch = batch_of(ds.valid)
    per_width = model.embeddings(batch)
    assert [t.shape[1:] for t in per_width] == [(1, 8), (2, 4), (1, 2)]  # c2, m0 at 4
    assert model.embeddings.flat(per_width).shape == (len(ds.valid), 8 + 4 * 2 + 2)
    assert model.embeddings.stacked(per_width).shape == (len(ds.valid), 4, 6)
    assert model.plan.embedding.dropped == ("c3",)
    # the dropped field does not influence the prediction
    model.eval()
    other = dict(batch)
    other["categorical"] = batch["categorical"].clone()
    other["categorical"][:, 3] = (other["categorical"][:, 3] + 1) % 12
    assert torch.equal(model(batch)["logit"], model(other)["logit"])
    other["categorical"][:, 2] = (other["categorical"][:, 2] + 1) % 12
    assert not torch.equal(model(batch)["logit"], model(other)["logit"])
    _forward_backward(spec, ds)


def test_nis_groups_follow_frequency_rank(make_dataset) -> None:
    ds = make_dataset(2000, vocab=12)
    emb = EmbeddingSpec(default_dim=4, fields=(FieldEmbedding("c0", (8, 4, 0)),))
    spec = ModelSpec(embedding=emb, linear=False, interaction=InteractionSpec(), head=HeadSpec(()))
    model = build_model(spec, ds.schema)
    freq = ds.schema["c0"].frequencies
    ranked = np.argsort(-freq, kind="stable")
    top, middle, rare = ranked[:4], ranked[4:8], ranked[8:]
    e = model.embeddings
    assert e.dims == (8, 4)
    # one table row per value of its group: 1 zero row + c0's top group in the 8-d table
    assert e.tables[0].weight.shape[0] == 1 + 4
    assert e.tables[1].weight.shape[0] == 1 + 4 + 12 * 3 + 12  # middle + c1..c3 + m0
    n = 12
    cat = torch.zeros(n, 4, dtype=torch.long)
    cat[:, 0] = torch.arange(n)
    batch = {"categorical": cat, "numeric": torch.zeros(n, 2),
             "multi_hot": [torch.ones(n, 3, dtype=torch.long)]}
    vec = e(batch)[0][:, 0]  # c0 is the only field of width 8
    assert torch.all(vec[torch.as_tensor(rare)] == 0)  # dimension-0 group embeds as zeros
    assert torch.all(vec[torch.as_tensor(top)].abs().sum(-1) > 0)
    assert torch.all(vec[torch.as_tensor(middle)].abs().sum(-1) > 0)
    # the middle group lives in the 4-d table and is projected to 8
    assert e.nis_proj[0].shape == (1, 4, 8)
    _forward_backward(spec, ds)
    assert static_cost(spec, ds.schema).params == sum(p.numel() for p in model.parameters())


def test_multi_hot_mean_pooling_skips_padding(make_dataset) -> None:
    ds = make_dataset(200)
    spec = baseline("fm", ds.schema, embedding=EmbeddingSpec(default_dim=4))
    model = build_model(spec, ds.schema)
    cat = torch.zeros(2, 4, dtype=torch.long)
    mh = torch.tensor([[5, 0, 0], [5, 5, 0]])
    batch = {"categorical": cat, "numeric": torch.zeros(2, 2), "multi_hot": [mh]}
    m0 = model.embeddings(batch)[0][:, 4]
    assert torch.allclose(m0[0], m0[1])
    mh2 = torch.tensor([[5, 7, 0], [5, 0, 0]])
    m0b = model.embeddings({**batch, "multi_hot": [mh2]})[0][:, 4]
    rows = model.embeddings.tables[0].weight
    expected = (rows[model.embeddings.mhmap_0_0[5]] + rows[model.embeddings.mhmap_0_0[7]]) / 2
    assert torch.allclose(m0b[0], expected)


def test_skip_block_passes_its_embeddings_unchanged(make_dataset) -> None:
    ds = make_dataset(300)
    spec = ModelSpec(
        embedding=EmbeddingSpec(default_dim=4), linear=False,
        blocks=(BlockSpec("skip"), BlockSpec("conv", sparse_input=False, inputs=(0,), kernel=1)),
        head=HeadSpec(()),
    )
    model = _forward_backward(spec, ds)
    batch = batch_of(ds.valid)
    stacked = model.embeddings.stacked(model.embeddings(batch))
    assert torch.equal(model.blocks[0](None, None, stacked, []), stacked)
    # kernel 1 over 5 embeddings of width 4: a 4x4 matrix and a bias.
    assert model.plan.blocks[1].params == 4 * 4 + 4
    assert static_cost(spec, ds.schema).params == sum(p.numel() for p in model.parameters())


def test_graph_layers_give_the_fives_formula_and_counts(make_dataset) -> None:
    ds = make_dataset(300)
    graph = ((("c0", "c1"), ("c0", "c2"), ("c1", "c0")), (("c0", "c1"),))
    spec = ModelSpec(
        embedding=EmbeddingSpec(default_dim=4), linear=False,
        interaction=InteractionSpec(pairs=(), graph=graph), head=HeadSpec(()),
    )
    model = _forward_backward(spec, ds)
    assert model.graph is not None
    e = model.embeddings.stacked(model.embeddings(batch_of(ds.valid)))
    pos = {f: model.plan.embedding.position(f) for f in ("c0", "c1", "c2")}
    h1_c0 = e[:, pos["c0"]] * (e[:, pos["c1"]] + e[:, pos["c2"]]) / 2
    h1_c1 = e[:, pos["c1"]] * e[:, pos["c0"]]
    h2_c0 = e[:, pos["c0"]] * h1_c1  # an order-3 term: c0 * c1 * c0
    w1, w2 = model.graph.readout
    order = sorted([pos["c0"], pos["c1"]])
    r1 = {order[0]: w1[0], order[1]: w1[1]}
    expected = (h1_c0 * r1[pos["c0"]]).sum(1) + (h1_c1 * r1[pos["c1"]]).sum(1)
    expected = expected + (h2_c0 * w2[0]).sum(1)
    assert torch.allclose(model.graph(e), expected, atol=1e-6)
    assert static_cost(spec, ds.schema).params == sum(p.numel() for p in model.parameters())
    # bias, the tables, one readout of width 4 per node (2 nodes at layer 1, 1 at layer 2)
    assert model.plan.params == 1 + model.plan.embedding.table_params + 3 * 4


def test_dag_of_blocks_head_reads_unconsumed(make_dataset) -> None:
    ds = make_dataset(400)
    blocks = (
        BlockSpec("efc", dim=5),
        BlockSpec("attention", sparse_input=False, inputs=(0,), dim=6, heads=3),
        BlockSpec("dot", dense_input=True, sparse_input=False, inputs=(1,)),
        BlockSpec("mlp", dense_input=True, inputs=(2,), units=8, layers=1),
        BlockSpec("fm", sparse_input=False, inputs=(0, 3), dim=4),
        BlockSpec("cross", sparse_input=False, inputs=(1,), layers=1, cross_version=2),
    )
    spec = ModelSpec(embedding=EmbeddingSpec(default_dim=4), blocks=blocks, head=HeadSpec((8,)))
    model = _forward_backward(spec, ds)
    assert model.head_reads == (4, 5)
    assert model.plan.head_input == 4 + 5 * 6
    for p in model.parameters():
        assert p.grad is not None, "every parameter takes part in the prediction"
    assert static_cost(spec, ds.schema).params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_builds_and_counts_match(make_dataset, make_sequence_dataset, name) -> None:
    ds = make_sequence_dataset(400) if name == "din" else make_dataset(300)
    spec = baseline(name, ds.schema)
    model = _forward_backward(spec, ds)
    n = sum(p.numel() for p in model.parameters())
    cost = static_cost(spec, ds.schema)
    assert cost.params == n
    emb = sum(p.numel() for p in model.embedding_parameters()) * 4
    assert cost.embedding_bytes == emb


def test_spec_naming_unknown_fields_is_refused(make_dataset) -> None:
    ds = make_dataset(200)
    bad = ModelSpec(interaction=InteractionSpec(pairs=(PairInteraction(("c0", "zip")),)))
    with pytest.raises(InvalidParameterError, match="zip"):
        build_model(bad, ds.schema)
    bad = ModelSpec(embedding=EmbeddingSpec(fields=(FieldEmbedding("zip", (4,)),)))
    with pytest.raises(InvalidParameterError, match="zip"):
        build_model(bad, ds.schema)


def test_constant_model_is_refused(make_dataset) -> None:
    ds = make_dataset(200)
    with pytest.raises(InvalidParameterError, match="constant"):
        build_model(ModelSpec(linear=False, head=HeadSpec(())), ds.schema)


def test_no_numeric_and_no_multi_hot_fields(make_dataset) -> None:
    ds = make_dataset(300, n_numeric=0, n_multi_hot=0)
    for name in ("deepfm", "dcn", "nfm"):
        _forward_backward(baseline(name, ds.schema), ds)


@pytest.mark.parametrize("granularity", ["global", "field", "value"])
def test_pep_soft_threshold_counts_and_zeros(make_dataset, granularity) -> None:
    from recsearch.objectives.cost import nonzero_embedding_params
    from recsearch.spec import PruneSpec

    ds = make_dataset(300)
    dense = baseline("deepfm", ds.schema, embedding_dim=4)
    spec = dense.replace(embedding=EmbeddingSpec(default_dim=4, prune=PruneSpec(granularity, -4.6)))
    model = _forward_backward(spec, ds)
    assert static_cost(spec, ds.schema).params == sum(p.numel() for p in model.parameters())
    assert static_cost(spec, ds.schema).embedding_bytes == static_cost(dense, ds.schema).embedding_bytes
    assert model.embeddings.thresholds[0].grad is not None
    (table,) = model.embeddings.tables
    raw = table.weight.detach()
    (effective,) = model.embeddings.effective_tables()
    g = torch.sigmoid(torch.tensor(-4.6))
    assert torch.allclose(effective, torch.sign(raw) * torch.relu(raw.abs() - g))
    n = nonzero_embedding_params(model)
    assert n == int((raw.abs() > g).sum()) and 0 < n < raw.numel()
    assert nonzero_embedding_params(build_model(dense, ds.schema)) == raw.numel() - 4


def test_numeric_representations_count_exactly_and_replace_the_dense_input() -> None:
    from recsearch.data.synthetic import synthetic
    from recsearch.spec import NumericEmbedding

    ds = synthetic(600, n_categorical=3, n_numeric=3, max_vocab=30, seed=0)
    nums = (NumericEmbedding("n0", "autodis", meta=5, temperature=0.3),
            NumericEmbedding("n1", "bucket", buckets=7, bucketing="log"),
            NumericEmbedding("n2", "field"))
    for name in ("deepfm", "dcn", "nfm", "autoint"):
        base = baseline(name, embedding_dim=4)
        spec = base.replace(embedding=EmbeddingSpec(default_dim=4, numeric=nums))
        model = _forward_backward(spec, ds)
        cost = static_cost(spec, ds.schema)
        assert cost.params == sum(p.numel() for p in model.parameters()), name
        assert cost.embedding_bytes == 4 * sum(p.numel() for p in model.embedding_parameters())
        assert all(p.grad is not None for p in model.numeric.parameters()), name
    assert model.plan.n_dense == 0 and model.plan.embedding.n_fields == 3 + 3
    # Buckets: the row of each value is its bucket among the planned boundaries.
    (plan_n1,) = [n for n in model.plan.embedding.numeric if n.name == "n1"]
    x = torch.from_numpy(ds.valid.numeric[:, 1])
    rows = np.searchsorted(np.asarray(plan_n1.boundaries), x.numpy(), side="left")
    field = model.numeric.fields[1]
    assert torch.equal(field(x), field.table[torch.from_numpy(rows)])
    # One field embedded: the others stay dense inputs.
    spec = baseline("deepfm", embedding_dim=4).replace(
        embedding=EmbeddingSpec(default_dim=4, numeric=nums[:1]))
    model = _forward_backward(spec, ds)
    assert model.plan.n_dense == 2 and model.linear.dense.in_features == 2


def test_bucketised_numeric_field_without_quantiles_is_refused(make_dataset) -> None:
    from recsearch.spec import NumericEmbedding

    ds = make_dataset(200)  # hand-built fields: no quantiles
    spec = baseline("deepfm").replace(
        embedding=EmbeddingSpec(numeric=(NumericEmbedding("n0", "bucket"),)))
    with pytest.raises(InvalidParameterError, match="n0.*quantiles"):
        build_model(spec, ds.schema)
    spec = baseline("deepfm").replace(
        embedding=EmbeddingSpec(numeric=(NumericEmbedding("c0", "field"),)))
    with pytest.raises(InvalidParameterError, match="c0"):
        build_model(spec, ds.schema)


@pytest.mark.parametrize("output", ["average", "last", "target"])
def test_behaviour_encoders_count_exactly_and_read_the_history(
    make_sequence_dataset, output
) -> None:
    from recsearch.spec import BehaviourSpec
    from recsearch.spec import SequenceLayer

    ds = make_sequence_dataset(400)
    layers = tuple(SequenceLayer(n, o, a) for n, o, a in [
        ("layer", "conv", "relu"), ("none", "gru", "gelu"), ("layer", "attention", "swish"),
        ("none", "pool", "identity"), ("layer", "zero", "relu")])
    for name in ("deepfm", "dcn", "autoint"):
        spec = baseline(name, embedding_dim=4).replace(behaviour=BehaviourSpec(layers, output))
        model = _forward_backward(spec, ds)
        cost = static_cost(spec, ds.schema)
        assert cost.params == sum(p.numel() for p in model.parameters()), name
        assert cost.embedding_bytes == 4 * sum(p.numel() for p in model.embedding_parameters())
        assert all(p.grad is not None for p in model.sequences.parameters()), name
    # Padding is ignored: an empty history and one of pads only encode alike.
    enc = model.sequences.encoders[0]
    ids = torch.tensor([[0, 0, 0, 0, 7], [0, 0, 0, 0, 0]])
    ctx = torch.randn(2, enc.query.shape[0]) if enc.query is not None else None
    out = enc(ids, ctx)
    assert torch.isfinite(out).all() and out.shape == (2, 4)


def test_behaviour_without_a_sequence_field_is_refused(make_dataset) -> None:
    ds = make_dataset(200)
    with pytest.raises(InvalidParameterError, match="sequence field"):
        baseline("din", ds.schema)
    with pytest.raises(InvalidParameterError, match="sequence field"):
        build_model(baseline("din"), ds.schema)


def test_head_fractions_and_activations_count_exactly(make_dataset) -> None:
    ds = make_dataset(300)
    head = HeadSpec(widths=(), fractions=(0.5, 0.1), activations=("dice", "swish"))
    spec = baseline("deepfm", embedding_dim=4).replace(head=head)
    model = _forward_backward(spec, ds)
    n_in = model.plan.head_input
    assert model.plan.head_widths == (round(n_in * 0.5), max(1, round(round(n_in * 0.5) * 0.1)))
    assert static_cost(spec, ds.schema).params == sum(p.numel() for p in model.parameters())
    assert model.head.net[1].alpha.grad is not None


def test_finetune_keeps_frozen_fields_and_parts_and_checks_the_state(make_dataset, tmp_path) -> None:
    from recsearch.objectives.model import read_state
    from recsearch.objectives.trainer import make_optimizer
    from recsearch.spec import FineTuneSpec

    ds = make_dataset(300)
    spec = baseline("deepfm", embedding_dim=4)
    source = build_model(spec, ds.schema)
    torch.save(source.state_dict(), tmp_path / "src.pt")
    state = read_state(tmp_path / "src.pt")
    ft = spec.replace(finetune=FineTuneSpec(frozen_fields=("c0",), frozen_parts=("mlp",)))
    model = build_model(ft, ds.schema, pretrained=state)
    assert static_cost(ft, ds.schema).params == sum(p.numel() for p in model.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = make_optimizer(model, ft.training, torch.device("cpu"))
    batch = batch_of(ds.train)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(
            model(batch)["logit"], torch.from_numpy(ds.train.label)).backward()
        opt.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in after if k.startswith("head."))
    table = "embeddings.tables.0.weight"
    owner = model.embeddings.owner_0
    c0 = model.plan.embedding.fields.index(
        next(f for f in model.plan.embedding.fields if f.name == "c0"))
    assert torch.equal(before[table][owner == c0], after[table][owner == c0])
    assert not torch.equal(before[table][owner > c0], after[table][owner > c0])
    with pytest.raises(InvalidParameterError, match="pre-trained"):
        build_model(ft, ds.schema)
    other = baseline("deepfm", embedding_dim=8)
    with pytest.raises(InvalidParameterError, match="shapes"):
        build_model(other, ds.schema, pretrained=state)
    torch.save({"x": [1, 2]}, tmp_path / "bad.pt")
    with pytest.raises(InvalidParameterError, match="state dict"):
        read_state(tmp_path / "bad.pt")


def test_pep_training_reports_the_measured_non_zero_size(make_dataset) -> None:
    from recsearch.objectives.trainer import train
    from recsearch.spec import PruneSpec
    from recsearch.spec import TrainingSpec

    ds = make_dataset(600)
    dense = baseline("deepfm", embedding_dim=4, training=TrainingSpec(batch_size=128))
    pruned = dense.replace(embedding=EmbeddingSpec(default_dim=4, prune=PruneSpec("field", -4.0)))
    a = train(dense, ds, 1.0, device="cpu", measure=False).cost
    b = train(pruned, ds, 1.0, device="cpu", measure=False).cost
    assert a.embedding_bytes == b.embedding_bytes, "the static size is the dense size"
    assert 0 <= b.embedding_nonzero < a.embedding_nonzero
    assert a.as_dict()["embedding_nonzero"] == a.embedding_nonzero


def _preset_names() -> list[str]:
    from recsearch.spaces import available

    return sorted(available())


@pytest.mark.parametrize("name", _preset_names())
def test_static_cost_equals_the_built_counts_for_every_preset(name) -> None:
    from recsearch.data.synthetic import synthetic
    from recsearch.spaces import decode
    from recsearch.spaces import default_base
    from recsearch.spaces import preset

    ds = synthetic(300, n_categorical=4, n_numeric=2, n_multi_hot=1, n_sequence=1,
                   max_vocab=30, seed=0)
    space = preset(name, ds.schema, seed=5)
    state = build_model(default_base(space), ds.schema).state_dict() if name == "autoft" else None
    for config in space.sample_configuration(10):
        spec = decode(config, ds.schema)
        model = build_model(spec, ds.schema, pretrained=state)
        cost = static_cost(spec, ds.schema)
        assert cost.params == sum(p.numel() for p in model.parameters()), spec
        assert cost.embedding_bytes == 4 * sum(p.numel() for p in model.embedding_parameters())
