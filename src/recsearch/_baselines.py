"""The baseline models of :func:`recsearch.spec.baseline` as specs (import them from there)."""

from __future__ import annotations

from recsearch.spec import BehaviourSpec
from recsearch.spec import BlockSpec
from recsearch.spec import EmbeddingSpec
from recsearch.spec import HeadSpec
from recsearch.spec import InteractionSpec
from recsearch.spec import ModelSpec


def baseline_specs(dim: int) -> dict[str, ModelSpec]:
    """Every baseline at embedding dimension ``dim``, keyed like ``recsearch.spec.BASELINES``."""
    emb = EmbeddingSpec(default_dim=dim)
    mlp = HeadSpec(widths=(400, 400, 400))
    specs = {
        "lr": ModelSpec(embedding=emb, linear=True, head=HeadSpec(widths=())),
        "fm": ModelSpec(embedding=emb, interaction=InteractionSpec(), head=HeadSpec(widths=())),
        "dnn": ModelSpec(embedding=emb, linear=False, head=mlp),
        "deepfm": ModelSpec(embedding=emb, interaction=InteractionSpec(), head=mlp),
        "dcn": ModelSpec(
            embedding=emb,
            linear=False,
            blocks=(
                BlockSpec("cross", dense_input=True, sparse_input=True, layers=3),
                BlockSpec("mlp", dense_input=True, sparse_input=True, units=400, layers=3),
            ),
            head=HeadSpec(widths=()),
        ),
        "dcnv2": ModelSpec(
            embedding=emb,
            linear=False,
            blocks=(
                BlockSpec("cross", dense_input=True, sparse_input=True, layers=3, cross_version=2),
                BlockSpec("mlp", dense_input=True, sparse_input=True, units=400, layers=3),
            ),
            head=HeadSpec(widths=()),
        ),
        "autoint": ModelSpec(
            embedding=emb,
            linear=True,
            blocks=(BlockSpec("attention", sparse_input=True, layers=3, heads=2, dim=dim),),
            head=HeadSpec(widths=()),
        ),
        "nfm": ModelSpec(
            embedding=emb,
            linear=True,
            blocks=(
                BlockSpec("fm", sparse_input=True, dim=dim),
                BlockSpec("mlp", sparse_input=False, inputs=(0,), units=256, layers=2),
            ),
            head=HeadSpec(widths=()),
        ),
        "din": ModelSpec(
            embedding=emb,
            linear=False,
            behaviour=BehaviourSpec(output="target"),
            head=HeadSpec(widths=(200, 80)),
        ),
    }
    return specs
