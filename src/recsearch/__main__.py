"""``python -m recsearch``: the same as the ``recsearch`` console script."""

from __future__ import annotations

from recsearch.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
