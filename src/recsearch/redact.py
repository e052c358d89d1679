"""Secrets out of every URL recsearch shows, logs or stores.

A storage or tracking URL may carry a password (``postgresql+psycopg://user:pw@host/db``), a
password-like query parameter (``?password=...``, ``?token=...``) or a token as user name
(``https://TOKEN@host``). :func:`redact` replaces each secret with ``***``; :func:`redact_text`
does so for every URL (and libpq ``password=...`` pair) inside a message. Study settings hold
only redacted URLs, so what is written to a journal, a database or MLflow never holds a secret.

Where a worker takes its credentials from (:func:`usable_url`), first to last:

1. its own command line (``--storage``, ``--tracking-uri``) or Python call: the real URL, which
   the process remembers (:func:`remember`) so the redacted form read back from storage is
   resolved to it;
2. environment variables: ``RECSEARCH_STORAGE`` for the storage, ``MLFLOW_TRACKING_URI`` for
   MLflow (MLflow's own variable), used when their redacted form is the URL asked for;
3. otherwise the redacted URL without its secrets, so the driver's own sources apply: for
   PostgreSQL the ``~/.pgpass`` file (or ``PGPASSFILE``) and ``PGPASSWORD``.

Example:
    >>> redact("postgresql+psycopg://me:s3cret@db:5432/rs?sslmode=require&password=x")
    'postgresql+psycopg://me:***@db:5432/rs?sslmode=require&password=***'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urlsplit

__all__ = [
    "MASK",
    "remember",
    "secret_env",
    "STORAGE_ENV",
    "TRACKING_ENV",
    "is_redacted",
    "redact",
    "redact_options",
    "redact_text",
    "usable_options",
    "usable_url",
]

MASK = "***"
"""What a secret is replaced with."""

STORAGE_ENV = "RECSEARCH_STORAGE"
"""Environment variable holding the real storage URL for workers (``--storage`` default)."""

TRACKING_ENV = "MLFLOW_TRACKING_URI"
"""MLflow's environment variable for the tracking URI; recsearch reads it as MLflow does."""

_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|pwd|secret|token|api[_-]?key|access[_-]?key|auth|credential|signature"
    r"|sig|sslpassword)",
    re.IGNORECASE,
)
_DATABASES = ("postgres", "mysql", "mariadb", "oracle", "mssql", "sqlite", "cockroach", "redshift")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>()\[\]{},]+")
_PAIR = re.compile(
    r"""\b(password|passwd|pwd|sslpassword)\s*=\s*('[^']*'|"[^"]*"|[^\s&;,'"]+)""", re.IGNORECASE
)


_KNOWN: dict[str, str] = {}
_KNOWN_OPTIONS: dict[str, str] = {}
OPTION_ENV_PREFIX = "RECSEARCH_OPTION_"
"""``RECSEARCH_OPTION_<KEY>`` gives a worker the real value of a masked loader option."""


def remember(url: str | None) -> str | None:
    """Note ``url`` as the real form of its redacted one in this process; return it redacted."""
    if url is None:
        return None
    shown = redact(url)
    if shown != url:
        _KNOWN[shown] = url
    return shown


def _secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact(url: str) -> str:
    """``url`` with its password, token-like user name and password-like parameters masked.

    Text that is not a URL (a file path, ``journal:PATH``) is returned unchanged.

    Example:
        >>> redact("https://tok123@mlflow.example.com/?api_key=k&x=1")
        'https://***@mlflow.example.com/?api_key=***&x=1'
        >>> redact("sqlite:///studies.db")
        'sqlite:///studies.db'
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return _PAIR.sub(lambda m: f"{m.group(1)}={MASK}", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, sep, _ = userinfo.partition(":")
        database = parts.scheme.lower().startswith(_DATABASES)
        if sep:
            userinfo = f"{user}:{MASK}"
        elif not database:
            userinfo = MASK  # NOTE: a lone user name of a web URL is usually a token
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_key(k) for k, _ in pairs):
            query = urlencode(
                [(k, MASK if _secret_key(k) else v) for k, v in pairs], safe="*/:", quote_via=quote
            )
    if netloc == parts.netloc and query == parts.query:
        return url
    return _join(parts.scheme, netloc, parts.path, query, parts.fragment)


def _join(scheme: str, netloc: str, path: str, query: str, fragment: str) -> str:
    # NOTE: not urlunsplit, which turns sqlite:////abs/path into sqlite://abs/path.
    return (
        f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
        + (f"#{fragment}" if fragment else "")
    )


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted, and libpq ``password=...`` pairs masked.

    Example:
        >>> redact_text("cannot open 'postgresql://u:pw@h/db': password=pw rejected")
        "cannot open 'postgresql://u:***@h/db': password=*** rejected"
    """
    text = _URL.sub(lambda m: redact(m.group(0)), text)
    return _PAIR.sub(lambda m: f"{m.group(1)}={MASK}", text)


def is_redacted(url: str | None) -> bool:
    """Whether ``url`` had a secret masked (so it cannot be used as it is)."""
    return url is not None and MASK in url and redact(url) == url and "://" in url


def _strip(url: str) -> str:
    """A redacted URL without its masked parts, so the driver's own credentials apply."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.partition(":")[0]
        netloc = host if user == MASK else f"{user}@{host}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if v != MASK]
    query = urlencode(pairs, safe="/:", quote_via=quote) if pairs else ""
    return _join(parts.scheme, netloc, parts.path, query, parts.fragment)


def usable_url(url: str | None, *, env: str) -> str | None:
    """The URL to connect with, given one that may be redacted (read from stored settings).

    A URL with no masked secret is returned as it is. A redacted one is replaced by the real URL
    this process was given (:func:`remember`), else by the environment variable ``env`` when
    that holds a URL whose redacted form it is, else it loses its masked parts (see the module
    docstring for where the password then comes from).

    Example:
        >>> usable_url("postgresql://me:***@db/rs", env="NO_SUCH_VARIABLE")
        'postgresql://me@db/rs'
    """
    if url is None or not is_redacted(url):
        return url
    if url in _KNOWN:
        return _KNOWN[url]
    real = os.environ.get(env)
    if real and redact(real) == url:
        return real
    return _strip(url)


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Loader options as settings store them, with no secret in them.

    A secret-named option's value (``token``, ``api_key``, ``password`` ...) is masked and every
    URL value redacted; this process remembers the real values (:func:`usable_options`).

    Example:
        >>> redact_options({"path": "https://tok@host/x.csv", "api_key": "k1", "n_rows": 5})
        {'path': 'https://***@host/x.csv', 'api_key': '***', 'n_rows': 5}
    """
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, str) and _secret_key(key) and value != MASK:
            _KNOWN_OPTIONS[key] = value
            out[key] = MASK
        elif isinstance(value, str):
            out[key] = remember(value)
        else:
            out[key] = value
    return out


def usable_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The loader options to call with, given stored ones that may be masked.

    A masked value is replaced by the real one this process was given, else by the environment
    variable ``RECSEARCH_OPTION_<KEY>`` (upper case), else a URL loses its masked parts (the
    driver's own credentials apply); a masked secret-named option nobody supplied is an error
    that names the option and the variable.

    Example:
        >>> usable_options({"n_rows": 5, "path": "data.csv"})
        {'n_rows': 5, 'path': 'data.csv'}
    """
    out: dict[str, Any] = {}
    for key, value in options.items():
        env = OPTION_ENV_PREFIX + key.upper()
        if value == MASK:
            real = _KNOWN_OPTIONS.get(key) or os.environ.get(env)
            if real is None:
                from recsearch.errors import InvalidParameterError

                raise InvalidParameterError(
                    f"The loader option {key!r} is a secret, masked in the stored settings; "
                    f"give it to this process with the environment variable {env}."
                )
            out[key] = real
        elif isinstance(value, str):
            out[key] = usable_url(value, env=env)
        else:
            out[key] = value
    return out


def secret_env(storage_url: str | None, tracking_uri: str | None) -> dict[str, str]:
    """Environment for local worker processes: the real URLs, kept off their command lines.

    Example:
        >>> secret_env("postgresql://me:pw@db/rs", None)
        {'RECSEARCH_STORAGE': 'postgresql://me:pw@db/rs'}
    """
    out = {}
    real = usable_url(storage_url, env=STORAGE_ENV)
    if real and redact(real) != real:
        out[STORAGE_ENV] = real
    real = usable_url(tracking_uri, env=TRACKING_ENV)
    if real and redact(real) != real:
        out[TRACKING_ENV] = real
    return out
