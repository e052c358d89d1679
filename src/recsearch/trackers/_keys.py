"""MLflow-legal keys and values: sanitising, truncation, flattening (no MLflow import at load)."""

from __future__ import annotations

import json
import math
import re
import time
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["TRUNCATION_MARKER", "flatten", "mlflow_param_limit", "sanitize_key", "truncate_value"]

TRUNCATION_MARKER = "...[truncated]"
_LEGAL_KEY = re.compile(r"[^\w.\- /]")
_MAX_KEY = 250


def mlflow_param_limit() -> int:
    """The longest parameter value the installed MLflow accepts (6000 characters in MLflow 3)."""
    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

        return int(MAX_PARAM_VAL_LENGTH)
    except ImportError:  # pragma: no cover - very old or very new MLflow
        return 500


def sanitize_key(key: object) -> str:
    """An MLflow-legal param/metric/tag key for ``key``.

    Characters outside alphanumerics, ``_ - . /`` and space become ``_``; path-like forms that
    MLflow rejects (leading ``/``, ``..``, ``//``) are flattened; long keys are cut to 250.

    Example:
        >>> sanitize_key("dcn:num_cross_layers")
        'dcn_num_cross_layers'
    """
    text = _LEGAL_KEY.sub("_", str(key))
    parts = [p for p in text.split("/") if p not in ("", ".", "..")]
    text = "/".join(parts) if parts else "_"
    if len(text) > _MAX_KEY:
        digest = format(zlib.crc32(str(key).encode()), "08x")  # NOTE: same in every process
        text = text[: _MAX_KEY - 9] + "_" + digest
    return text


def truncate_value(value: object, *, limit: int | None = None) -> str:
    """``str(value)``, cut to MLflow's limit with :data:`TRUNCATION_MARKER` at the end.

    Example:
        >>> truncate_value("x" * 30, limit=20)
        'xxxxxx...[truncated]'
    """
    if isinstance(value, str):
        text = value
    elif _is_container(value):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    limit = mlflow_param_limit() if limit is None else limit
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(TRUNCATION_MARKER))
    return text[:keep] + TRUNCATION_MARKER[: limit - keep]


def _is_container(value: object) -> bool:
    return isinstance(value, (dict, list, tuple))


def flatten(mapping: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened to ``a.b.c`` keys (lists and scalars stay values).

    Example:
        >>> flatten({"a": {"b": 1}, "c": 2})
        {'a.b': 1, 'c': 2}
    """
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def _finite(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _jsonable(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(mapping), default=str))
