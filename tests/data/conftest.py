from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
OCCUPATIONS = ("student", "engineer", "writer", "other", "artist")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RECSEARCH_HOME", str(home))
    return home


def criteo_lines(n: int, *, seed: int = 0) -> list[str]:
    """Criteo-format lines: label, 13 ints (some missing), 26 hex categories (some missing)."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        label = str(int(rng.integers(0, 2)))
        ints = ["" if rng.random() < 0.2 else str(int(rng.geometric(0.05)) - 2) for _ in range(13)]
        cats = [
            "" if rng.random() < 0.1 else format(int(rng.zipf(1.5)) * 2654435761 % 2**32, "08x")
            for _ in range(26)
        ]
        lines.append("\t".join([label, *ints, *cats]))
    return lines


AVAZU_HEADER = (
    "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,"
    "app_category,device_id,device_ip,device_model,device_type,device_conn_type,"
    "C14,C15,C16,C17,C18,C19,C20,C21"
)


def avazu_lines(n: int, *, seed: int = 0) -> list[str]:
    """Avazu-format lines (header first) spanning 2014-10-21..2014-10-23."""
    rng = np.random.default_rng(seed)
    out = [AVAZU_HEADER]
    for i in range(n):
        hour = f"14102{1 + i * 3 // n}{int(rng.integers(0, 24)):02d}"
        cols = [str(10**18 + i), str(int(rng.integers(0, 2))), hour]
        cols += [format(int(rng.zipf(1.6)) * 97 % 10**6, "x") for _ in range(21)]
        out.append(",".join(cols))
    return out


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_criteo(tmp_path: Path) -> Callable[..., Path]:
    def make(n: int = 300, *, seed: int = 0, name: str = "criteo.txt") -> Path:
        return write_lines(tmp_path / name, criteo_lines(n, seed=seed))

    return make


@pytest.fixture
def make_avazu(tmp_path: Path) -> Callable[..., Path]:
    def make(n: int = 300, *, seed: int = 0, name: str = "avazu.csv") -> Path:
        return write_lines(tmp_path / name, avazu_lines(n, seed=seed))

    return make


def movielens_tables(
    n_ratings: int = 400, *, n_users: int = 30, n_items: int = 40, seed: int = 0
) -> dict[str, list[tuple]]:
    """Random MovieLens-like tables: ratings, users and items."""
    rng = np.random.default_rng(seed)
    users = []
    for u in range(1, n_users + 1):
        zip_code = f"{int(rng.integers(10000, 99999))}" if u % 7 else "T8H1N"
        users.append(
            (u, int(rng.integers(7, 70)), "MF"[u % 2], OCCUPATIONS[u % len(OCCUPATIONS)], zip_code)
        )
    items = []
    for i in range(1, n_items + 1):
        year = int(rng.integers(1930, 1998))
        flags = [0] * len(GENRES)
        for g in rng.choice(
            np.arange(1, len(GENRES)), size=int(rng.integers(1, 4)), replace=False
        ):
            flags[int(g)] = 1
        if i == n_items:  # one item with unknown genre and no release date
            flags, year = [1] + [0] * (len(GENRES) - 1), 0
        items.append((i, f"Movie {i} ({year})", year, flags))
    ratings = []
    for _ in range(n_ratings):
        ratings.append(
            (
                int(rng.integers(1, n_users + 1)),
                int(rng.integers(1, n_items + 1)),
                int(rng.integers(1, 6)),
                int(rng.integers(874_724_710, 893_286_638)),
            )
        )
    return {"ratings": ratings, "users": users, "items": items}


def write_grouplens(folder: Path, tables: dict[str, list[tuple]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(
        "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in tables["ratings"])
    )
    (folder / "u.user").write_text(
        "".join(f"{u}|{a}|{g}|{o}|{z}\n" for u, a, g, o, z in tables["users"])
    )
    lines = []
    for i, title, year, flags in tables["items"]:
        date = f"01-{MONTHS[i % 12]}-{year}" if year else ""
        url = "http://us.imdb.com/M/title-exact?Movie%20" + str(i)
        lines.append("|".join([str(i), title, date, "", url, *map(str, flags)]) + "\n")
    (folder / "u.item").write_bytes("".join(lines).encode("latin-1"))
    return folder


def write_atomic(folder: Path, tables: dict[str, list[tuple]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    inter += [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in tables["ratings"]]
    (folder / "ml-100k.inter").write_text("\n".join(inter) + "\n")
    user = ["user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token"]
    user += [f"{u}\t{a}\t{g}\t{o}\t{z}" for u, a, g, o, z in tables["users"]]
    (folder / "ml-100k.user").write_text("\n".join(user) + "\n")
    item = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    for i, title, year, flags in tables["items"]:
        genres = " ".join(g for g, f in zip(GENRES, flags, strict=True) if f)
        item.append(f"{i}\t{title.rsplit(' (', 1)[0]}\t{year if year else ''}\t{genres}")
    (folder / "ml-100k.item").write_text("\n".join(item) + "\n")
    return folder


def grouplens_zip(tables: dict[str, list[tuple]], tmp: Path) -> bytes:
    folder = write_grouplens(tmp / "zipsrc" / "ml-100k", tables)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("u.data", "u.user", "u.item"):
            zf.write(folder / name, f"ml-100k/{name}")
    return buf.getvalue()


@pytest.fixture
def ml() -> SimpleNamespace:
    """MovieLens file writers: tables(), grouplens(folder, t), atomic(folder, t), zip(t, tmp)."""
    return SimpleNamespace(
        tables=movielens_tables, grouplens=write_grouplens, atomic=write_atomic, zip=grouplens_zip
    )


@pytest.fixture
def lines() -> SimpleNamespace:
    """Line generators: criteo(n), avazu(n) (header first), write(path, lines)."""
    return SimpleNamespace(criteo=criteo_lines, avazu=avazu_lines, write=write_lines)
