"""HumanEval → code rows: each problem's canonical solution and mutants of it, labelled by
running the problem's tests.

    rows, groups = humaneval_rows(Path("HumanEval.jsonl.gz"), seed=0, check=check_programs)

A mutant changes one spot of the canonical body: a comparison (``<`` ↔ ``<=``, ``==`` ↔
``!=``), an arithmetic operator (``+`` ↔ ``-``, ``*`` → ``//``), an integer constant (± 1), a
boolean constant, or ``and`` ↔ ``or``. Many mutants fail the tests; some are equivalent and
pass. Nothing here assumes which: ``check`` runs every candidate program (prompt + body +
tests) and says whether it passed, and that is the label. ``check`` must run them isolated
(``aar.sandbox.programs.check_programs`` uses bubblewrap), never on the host as is.

Rows are ``{id, source, question, choice, label}`` with ``question`` the prompt (signature and
docstring) and ``choice`` the candidate body, every body printed by ``ast.unparse`` so that
formatting gives nothing away; ``source`` is ``canonical`` or ``mutant:<operator>``. All
candidates of a problem share a group, so no problem is split.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aar.core.errors import DataError
from aar.w2s.reference.jsonl import read_jsonl

ProgramCheck = Callable[[Sequence[str]], list[bool]]
"""Runs each program in isolation; True where it exited 0."""

SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.And: ast.Or,
    ast.Or: ast.And,
}


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str

    def program(self, body: str) -> str:
        """The file that passes (exit 0) exactly when ``body`` passes the tests."""
        return f"{self.prompt}{body}\n\n{self.test}\n\ncheck({self.entry_point})\n"


def read_problems(source: Path) -> list[Problem]:
    problems = []
    for number, raw in read_jsonl(source):
        try:
            problems.append(Problem(**{k: raw[k] for k in Problem.__dataclass_fields__}))
        except (KeyError, TypeError):
            raise DataError(
                f"{source}:{number}: a HumanEval row needs task_id, prompt, "
                "canonical_solution, test and entry_point"
            ) from None
    return problems


def mutation_sites(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Every node one operator can change, with the operator's name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS:
            yield node, "compare"
        elif isinstance(node, ast.BinOp | ast.BoolOp) and type(node.op) in SWAPS:
            yield node, "operator"
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield node, "constant"
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield node, "boolean"


def mutate(node: ast.AST, rng: np.random.Generator) -> None:
    if isinstance(node, ast.Compare):
        node.ops[0] = SWAPS[type(node.ops[0])]()
    elif isinstance(node, ast.BinOp | ast.BoolOp):
        node.op = SWAPS[type(node.op)]()
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        node.value = not node.value
    elif isinstance(node, ast.Constant) and isinstance(node.value, int):
        node.value = node.value + (1 if rng.random() < 0.5 else -1)


def body_of(problem: Problem, tree: ast.Module) -> str:
    """The entry point's body after its docstring, as source indented one level."""
    function = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == problem.entry_point
    )
    statements = function.body
    if statements and isinstance(statements[0], ast.Expr):
        value: Any = statements[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            statements = statements[1:]
    lines = "\n".join(ast.unparse(s) for s in statements).splitlines()
    return "\n".join("    " + line if line else line for line in lines) + "\n"


def canonical_body(problem: Problem) -> str:
    """The canonical body printed the way mutants are (``ast.unparse``), so that formatting
    (comments, quotes, spacing) does not tell a canonical solution from a mutant."""
    try:
        return body_of(problem, ast.parse(problem.prompt + problem.canonical_solution))
    except SyntaxError:
        return problem.canonical_solution


def mutants(problem: Problem, rng: np.random.Generator, count: int) -> list[tuple[str, str]]:
    """Up to ``count`` distinct (operator, body) mutants of the canonical body."""
    try:
        tree = ast.parse(problem.prompt + problem.canonical_solution)
    except SyntaxError:
        return []
    original = body_of(problem, tree)
    function = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == problem.entry_point
    )
    sites = list(mutation_sites(function))
    found: dict[str, str] = {}
    for index in rng.permutation(len(sites)):
        mutated = copy.deepcopy(tree)
        site, kind = list(mutation_sites(_same_function(mutated, problem)))[index]
        mutate(site, rng)
        body = body_of(problem, mutated)
        if body != original and body not in found:
            found[body] = kind
        if len(found) == count:
            break
    return [(kind, body) for body, kind in found.items()]


def _same_function(tree: ast.Module, problem: Problem) -> ast.AST:
    return next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == problem.entry_point
    )


def humaneval_rows(
    source: Path, seed: int, check: ProgramCheck | None, mutants_per_problem: int = 3
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Rows and a group (problem number) per row; every label comes from running the tests."""
    if check is None:
        raise DataError("humaneval rows are labelled by running tests: a sandbox is needed")
    rng = np.random.default_rng(seed)
    candidates: list[tuple[int, Problem, str, str]] = []
    for number, problem in enumerate(read_problems(source)):
        candidates.append((number, problem, "canonical", canonical_body(problem)))
        for kind, body in mutants(problem, rng, mutants_per_problem):
            candidates.append((number, problem, f"mutant:{kind}", body))
    passed = check([problem.program(body) for _, problem, _, body in candidates])
    rows = [
        {
            "id": f"{problem.task_id}#{i}",
            "source": kind,
            "question": problem.prompt,
            "choice": body,
            "label": int(ok),
        }
        for i, ((_, problem, kind, body), ok) in enumerate(zip(candidates, passed, strict=True))
    ]
    return rows, np.asarray([number for number, *_ in candidates])
