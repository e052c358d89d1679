"""Small generated click logs with raw values, for the retrain, report and deploy tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsearch.data.frame import from_frame
from recsearch.data.schema import Dataset


def raw_clicks(n: int = 1500, *, seed: int = 0) -> pd.DataFrame:
    """Raw rows (integer ids, a text field, a number, tags) whose label has planted signal."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 40, n)
    item = rng.integers(0, 25, n)
    city = rng.choice(["oslo", "rome", "lima", "nome"], n)
    x = rng.normal(size=n)
    effect_u = np.random.default_rng(99).normal(size=40) * 1.5
    effect_i = np.random.default_rng(98).normal(size=25) * 1.5
    logit = effect_u[user] + effect_i[item] + 0.8 * x + (city == "rome") * (item % 2) * 2.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    tags = ["|".join(rng.choice(list("abcde"), 2, replace=False)) for _ in range(n)]
    return pd.DataFrame({"y": y, "user": user, "item": item, "city": city, "x": x, "tags": tags})


def clicks_dataset(n: int = 1500, *, seed: int = 0) -> Dataset:
    """:func:`raw_clicks` loaded with :func:`from_frame` (so it carries vocabularies)."""
    return from_frame(
        raw_clicks(n, seed=seed), label="y", categorical=["user", "item", "city"],
        numeric=["x"], multi_hot=["tags"], seed=seed, name="clicks",
    )  # fmt: skip


def clicks_loader(n_rows: int = 1500, seed: int = 0) -> Dataset:
    """``--dataset _retrain_support:clicks_loader`` for studies."""
    return clicks_dataset(n_rows, seed=seed)
