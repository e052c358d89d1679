"""Which ``module:callable`` references a process may import (issue 14 #3).

A study's settings live in its storage, and anyone who can write that storage (a shared
PostgreSQL database) could name ``os:system`` as the data set. So a worker never imports a
callable that only the storage names. A reference may be imported when:

- this process's own command line or Python call named it (``recsearch run/create --dataset
  my_pkg.data:load``, ``create_study(dataset="my_pkg.data:load")``, ``recsearch worker
  --allow-callable my_pkg.data:load``): :func:`allow` records it;
- the environment variable :data:`ALLOW_ENV` (``RECSEARCH_ALLOW_CALLABLES``) on the worker's
  machine lists it: references separated by commas or spaces, ``my_pkg.data:*`` allowing every
  callable of one module. ``recsearch run`` passes what it was given to its local workers this way.

Anything else is refused with :class:`CallableNotAllowedError` before any import. The built-in
objectives of each study kind are recsearch's own and always allowed.
"""

from __future__ import annotations

import os
import re

from recsearch.errors import RecsearchError

__all__ = [
    "ALLOW_ENV",
    "CallableNotAllowedError",
    "allow",
    "allow_env",
    "allowed",
    "check_allowed",
]

ALLOW_ENV = "RECSEARCH_ALLOW_CALLABLES"
"""Environment variable: the ``module:callable`` references this machine's workers may import."""

_GIVEN: set[str] = set()


class CallableNotAllowedError(RecsearchError, PermissionError):
    """A ``module:callable`` named only by a study's stored settings; nothing was imported."""


def allow(*refs: str | None) -> None:
    """Record references named by this process's own command line or Python call."""
    from recsearch.study.settings import is_ref

    _GIVEN.update(r for r in refs if r and is_ref(r))


def _listed() -> set[str]:
    return {r for r in re.split(r"[,\s]+", os.environ.get(ALLOW_ENV, "")) if r}


def allowed(ref: str) -> bool:
    """Whether ``ref`` may be imported here (see the module docstring).

    Example:
        >>> allowed("os:system")
        False
    """
    if ref in _GIVEN:
        return True
    listed = _listed()
    return ref in listed or f"{ref.partition(':')[0]}:*" in listed


def check_allowed(ref: str, what: str) -> None:
    """Raise :class:`CallableNotAllowedError` unless ``ref`` may be imported here."""
    if not allowed(ref):
        raise CallableNotAllowedError(
            f"{what} {ref!r} is named only by the study's stored settings; a worker never "
            f"imports code its storage names. If you trust it, allow it on this machine with "
            f"--allow-callable {ref} or {ALLOW_ENV}={ref}"
        )


def allow_env() -> dict[str, str]:
    """The environment entry that lets local worker processes import what this one may."""
    refs = sorted(_GIVEN | _listed())
    return {ALLOW_ENV: ",".join(refs)} if refs else {}
