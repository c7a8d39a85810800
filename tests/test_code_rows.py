"""Code rows from HumanEval: mutants of the canonical solutions, labelled by running the tests
in a bubblewrap sandbox (``aar data convert humaneval``)."""

from __future__ import annotations

import ast
import gzip
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from aar.sandbox.programs import check_programs
from aar.w2s.reference import load_reference
from aar.w2s.reference.convert import convert
from aar.w2s.reference.humaneval import canonical_body, mutants, read_problems
from tests.sandboxkit import require_bwrap


@pytest.fixture
def first_problems(shared_data: Path, tmp_path: Path) -> Path:
    """The first 12 HumanEval problems, as a file of the same format."""
    source = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()][:12]
    subset = tmp_path / "HumanEval-12.jsonl"
    subset.write_text("".join(lines))
    return subset


def differing_nodes(a: str, b: str) -> int:
    """How many AST nodes differ (in type, or a constant's value) between two bodies."""
    nodes_a = list(ast.walk(ast.parse(textwrap.dedent(a))))
    nodes_b = list(ast.walk(ast.parse(textwrap.dedent(b))))
    assert len(nodes_a) == len(nodes_b)
    return sum(
        type(x) is not type(y) or (isinstance(x, ast.Constant) and x.value != y.value)
        for x, y in zip(nodes_a, nodes_b, strict=True)
    )


def test_a_mutant_changes_one_spot_of_the_canonical_body(first_problems: Path) -> None:
    for problem in read_problems(first_problems):
        original = canonical_body(problem)
        found = mutants(problem, np.random.default_rng(0), count=3)
        assert found == mutants(problem, np.random.default_rng(0), count=3)  # seeded
        assert len({body for _, body in found}) == len(found)
        for kind, body in found:
            assert kind in {"compare", "operator", "constant", "boolean"}
            assert body != original
            assert differing_nodes(original, body) == 1


def test_the_sandbox_runs_programs_and_reports_who_passed() -> None:
    require_bwrap()
    programs = [
        "assert 1 + 1 == 2\n",
        "assert 1 + 1 == 3\n",
        "while True:\n    pass\n",
        "import socket\nsocket.create_connection(('pypi.org', 443), timeout=2)\n",
        "open('/usr/evil', 'w')\n",
    ]
    assert check_programs(programs, timeout_s=2) == [True, False, False, False, False]


def test_humaneval_rows_are_labelled_by_their_tests(first_problems: Path, tmp_path: Path) -> None:
    require_bwrap()
    counts = convert("humaneval", first_problems, tmp_path / "code", check=check_programs)
    assert sum(counts.values()) > 12
    data = load_reference(tmp_path / "code", "code")
    rows = data.labeled + data.pool + data.test
    assert all(r.label == 1 for r in rows if r.source == "canonical")
    assert len([r for r in rows if r.source == "canonical"]) == 12
    assert any(r.label == 0 for r in rows)
    problems = {r.id.split("#")[0] for r in data.test}
    assert not problems & {r.id.split("#")[0] for r in data.labeled + data.pool}
    first = json.loads((tmp_path / "code" / "test.jsonl").read_text().splitlines()[0])
    assert set(first) == {"id", "source", "question", "choice", "label"}
