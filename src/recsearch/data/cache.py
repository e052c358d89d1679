"""On-disk cache of preprocessed data sets.

An entry is a directory ``<home>/datasets/<loader>-<key>/`` of ``.npy`` arrays plus
``meta.json``. The key hashes the loader name, its options and, for every source file, its size,
modification time and a SHA-256 of its first MiB, so editing a file (or changing an option)
misses the cache. Entries are written into a temporary directory and renamed into place, so a
failed or interrupted load never leaves a partial entry.

The home directory is ``$RECSEARCH_HOME`` when set, else ``~/.cache/recsearch``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import Literal

import numpy as np

from recsearch.data.schema import Dataset
from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.data.schema import Split

#: Bump when the preprocessing of any cached loader changes, so old entries are not reused.
CACHE_VERSION = 3  # 2: info["encoder"] (vocabularies, raw transform); 3: sequence vocabularies
_HEAD_BYTES = 1 << 20
_SPLITS = ("train", "valid", "test")


def cache_home() -> Path:
    """The cache root: ``$RECSEARCH_HOME`` or ``~/.cache/recsearch``."""
    env = os.environ.get("RECSEARCH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "recsearch"


def fingerprint(path: str | Path) -> dict[str, Any]:
    """Size, modification time and head hash of a source file."""
    p = Path(path)
    st = p.stat()
    h = hashlib.sha256()
    with p.open("rb") as fh:
        h.update(fh.read(_HEAD_BYTES))
    return {
        "path": str(p.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "head_sha256": h.hexdigest(),
    }


def cache_key(loader: str, sources: Sequence[str | Path], options: Mapping[str, Any]) -> str:
    """The cache key of a loader call (hex, 24 characters)."""
    payload = {
        "version": CACHE_VERSION,
        "loader": loader,
        "sources": [fingerprint(s) for s in sources],
        "options": {k: options[k] for k in sorted(options)},
    }
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_dataset(ds: Dataset, directory: str | Path) -> None:
    """Write a data set as ``.npy`` arrays plus ``meta.json`` into an existing directory."""
    d = Path(directory)
    for split_name in _SPLITS:
        split: Split = getattr(ds, split_name)
        np.save(d / f"{split_name}.categorical.npy", split.categorical)
        np.save(d / f"{split_name}.numeric.npy", split.numeric)
        np.save(d / f"{split_name}.label.npy", split.label)
        for i, m in enumerate(split.multi_hot):
            np.save(d / f"{split_name}.multi_hot.{i}.npy", m)
        for i, m in enumerate(split.sequence):
            np.save(d / f"{split_name}.sequence.{i}.npy", m)
    for i, f in enumerate(ds.schema.fields):
        np.save(d / f"frequencies.{i}.npy", f.frequencies)
        if f.quantiles.size:
            np.save(d / f"quantiles.{i}.npy", f.quantiles)
    meta = {
        "version": CACHE_VERSION,
        "name": ds.name,
        "label": ds.schema.label,
        "fields": [
            [f.name, f.kind, f.vocab_size] + ([f.max_len] if f.kind == "sequence" else [])
            for f in ds.schema.fields
        ],
        "n_multi_hot": len(ds.schema.multi_hot),
        "n_sequence": len(ds.schema.sequence),
        "info": _jsonable(dict(ds.info)),
    }
    # NOTE: meta.json is written last; an entry without it is incomplete.
    (d / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def load_dataset(directory: str | Path, *, mmap: bool = False) -> Dataset:
    """Read a data set written by :func:`save_dataset` (memory-mapped when ``mmap``)."""
    d = Path(directory)
    meta = json.loads((d / "meta.json").read_text())
    mode: Literal["r"] | None = "r" if mmap else None

    def arr(name: str) -> np.ndarray:
        out: np.ndarray = np.load(d / name, mmap_mode=mode, allow_pickle=False)
        return out

    splits = []
    for split_name in _SPLITS:
        splits.append(
            Split(
                arr(f"{split_name}.categorical.npy"),
                arr(f"{split_name}.numeric.npy"),
                tuple(arr(f"{split_name}.multi_hot.{i}.npy") for i in range(meta["n_multi_hot"])),
                arr(f"{split_name}.label.npy"),
                tuple(
                    arr(f"{split_name}.sequence.{i}.npy")
                    for i in range(meta.get("n_sequence", 0))
                ),
            )
        )
    def quantiles(i: int) -> np.ndarray:
        q = d / f"quantiles.{i}.npy"
        return np.load(q) if q.exists() else np.zeros(0, dtype=np.float64)

    fields = tuple(
        Field(name, kind, int(vocab), np.load(d / f"frequencies.{i}.npy"), quantiles(i),
              int(rest[0]) if rest else 0)
        for i, (name, kind, vocab, *rest) in enumerate(meta["fields"])
    )
    schema = Schema(meta["label"], fields)
    return Dataset(meta["name"], schema, splits[0], splits[1], splits[2], meta["info"])


def write_entry(ds: Dataset, final: Path) -> None:
    """Save ``ds`` at ``final`` atomically (temporary directory, then rename)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        save_dataset(ds, tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "meta.json").exists():  # NOTE: not a concurrent writer's twin
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def cached(
    loader: str,
    sources: Sequence[str | Path],
    options: Mapping[str, Any],
    build: Callable[[], Dataset],
    *,
    use_cache: bool = True,
    mmap: bool = False,
) -> Dataset:
    """Return the cached data set of this loader call, building and storing it on a miss.

    Args:
        loader: Loader name (part of the key and the directory name).
        sources: Files the data set is built from.
        options: Loader options that change the result (JSON-able).
        build: Builds the data set on a miss; if it raises, nothing is written.
        use_cache: ``False`` builds without reading or writing the cache.
        mmap: Memory-map the arrays of a cache hit instead of reading them.

    Example:
        >>> import recsearch.data as rd
        >>> cached("synthetic", [], {"n": 10}, lambda: rd.synthetic(10), use_cache=False).name
        'synthetic'
    """
    if not use_cache:
        return build()
    final = cache_home() / "datasets" / f"{loader}-{cache_key(loader, sources, options)}"
    if (final / "meta.json").exists():
        try:
            return load_dataset(final, mmap=mmap)
        except (OSError, ValueError, KeyError):
            shutil.rmtree(final, ignore_errors=True)
    ds = build()
    try:
        write_entry(ds, final)
    except OSError:
        return ds  # NOTE: an unwritable cache never fails a load
    return load_dataset(final, mmap=mmap) if mmap else ds
