"""Research directions: short starting points, one per researcher, written for this project.

    shipped = library()                         # the directions in prompts/directions/*.md
    mine = load_directions(Path("dirs.toml"))   # [[direction]] name = ..., title = ..., text = ...
    for researcher, direction in zip(names, assign(len(names), shipped, seed=0)): ...

``assign`` deals directions without repeats until every one is used, then deals again in a
fresh order, so N researchers cover min(N, len(directions)) distinct directions.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aar.core.errors import ConfigError

LIBRARY = Path(__file__).parent / "prompts" / "directions"


@dataclass(frozen=True)
class Direction:
    name: str
    title: str
    text: str


def library() -> list[Direction]:
    """The shipped directions, by name."""
    return [_from_markdown(path) for path in sorted(LIBRARY.glob("*.md"))]


def _from_markdown(path: Path) -> Direction:
    lines = path.read_text().strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ConfigError(f"{path}: a direction starts with a '# Title' line")
    return Direction(path.stem, lines[0][2:].strip(), "\n".join(lines[1:]).strip())


def load_directions(path: Path) -> list[Direction]:
    """Directions from a TOML file (``[[direction]]`` tables) or a folder of ``.md`` files."""
    if path.is_dir():
        found = [_from_markdown(p) for p in sorted(path.glob("*.md"))]
    elif path.is_file():
        found = _from_toml(path)
    else:
        raise ConfigError(f"no directions file or folder at {path}")
    if not found:
        raise ConfigError(f"{path} holds no directions")
    names = [d.name for d in found]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"{path}: direction names repeat: {', '.join(duplicates)}")
    return found


def _from_toml(path: Path) -> list[Direction]:
    try:
        tables = tomllib.loads(path.read_text()).get("direction", [])
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    found = []
    for number, table in enumerate(tables, 1):
        missing = [k for k in ("name", "text") if not str(table.get(k, "")).strip()]
        if missing:
            raise ConfigError(f"{path}: direction #{number} has no {' or '.join(missing)}")
        name = str(table["name"]).strip()
        found.append(Direction(name, str(table.get("title", name)), str(table["text"]).strip()))
    return found


def assign(count: int, directions: Sequence[Direction], seed: int = 0) -> list[Direction]:
    """``count`` directions, no repeats until all are used; the order is seeded."""
    if not directions:
        raise ConfigError("there are no research directions to assign")
    rng = random.Random(seed)
    dealt: list[Direction] = []
    while len(dealt) < count:
        deck = list(directions)
        rng.shuffle(deck)
        dealt.extend(deck[: count - len(dealt)])
    return dealt
