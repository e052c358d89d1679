"""``load(name_or_path, **options)``: one entry point for every loader."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsearch.data.schema import Dataset
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError

#: Names :func:`load` accepts besides file paths.
NAMES = ("synthetic", "movielens-100k", "criteo", "avazu")


def _call(loader: Callable[..., Dataset], what: str, *args: Any, **options: Any) -> Dataset:
    """Call a loader, turning an unknown or missing option into a clear error."""
    sig = inspect.signature(loader)
    try:
        sig.bind(*args, **options)
    except TypeError as exc:
        known = [p for p in sig.parameters if p not in ("path", "name_or_path")]
        raise InvalidParameterError(f"{what}: {exc}; its options are {known}") from None
    return loader(*args, **options)


def load(name_or_path: str | Path, **options: Any) -> Dataset:
    """Load a data set by name or from a CSV/Parquet file.

    ``domain="source"`` or ``"target"`` (any data set) keeps one domain of it
    (:func:`recsearch.data.domains.select_domain`): by the data set's documented rule, or by
    ``domain_rule={"field": ..., "source": [...], "target_fraction": ...}``.

    Names: ``synthetic`` (options of :func:`recsearch.data.synthetic`), ``movielens-100k``
    (options of :func:`recsearch.data.movielens_100k`), ``criteo`` and ``avazu`` (``path=``
    required, options of :func:`recsearch.data.criteo` / :func:`recsearch.data.avazu`).
    Anything else is a file path read with :func:`recsearch.data.read_file` (``label=``,
    ``categorical=``, ``numeric=``, ``multi_hot=``, ...), or a folder of MovieLens-100K files.

    Example:
        >>> ds = load("synthetic", n_rows=1000, seed=1)
        >>> len(ds)
        1000
    """
    domain, rule = options.pop("domain", None), options.pop("domain_rule", None)
    dataset = _load(name_or_path, **options)
    if domain is None and rule is None:
        return dataset
    from recsearch.data.domains import select_domain

    if domain is None:
        raise InvalidParameterError("the 'domain_rule' option needs domain='source' or 'target'")
    return select_domain(dataset, domain, rule)


def _load(name_or_path: str | Path, **options: Any) -> Dataset:
    if isinstance(name_or_path, str) and name_or_path in NAMES:
        name = name_or_path
        if name == "synthetic":
            from recsearch.data.synthetic import synthetic

            return _call(synthetic, "load('synthetic')", **options)
        if name == "movielens-100k":
            from recsearch.data._movielens import movielens_100k

            return _call(movielens_100k, "load('movielens-100k')", **options)
        if "path" not in options:
            raise InvalidParameterError(f"load({name!r}) needs path= (the {name} file)")
        path = options.pop("path")
        if name == "criteo":
            from recsearch.data._criteo import criteo

            return _call(criteo, "load('criteo')", path, **options)
        from recsearch.data._avazu import avazu

        return _call(avazu, "load('avazu')", path, **options)
    path = Path(name_or_path)
    if not path.exists():
        raise DataError(
            f"{path}: no such file (and not a data set name; names are {', '.join(NAMES)})"
        )
    if path.is_dir():
        from recsearch.data._movielens import movielens_100k

        return _call(movielens_100k, f"load({str(path)!r})", path, **options)
    from recsearch.data.frame import read_file

    return _call(read_file, f"load({str(path)!r})", path, **options)
