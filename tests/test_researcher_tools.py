"""The researcher's tools through the Toolbox, as a model calls them: results, errors (bad
arguments named field by field, with the schema), audit."""

import json
from pathlib import Path
from typing import Any

from aar.researchers.providers.base import ToolCall
from aar.researchers.tools import Toolbox
from tests.researchkit import lab


def call(box: Toolbox, name: str, **arguments: Any) -> tuple[str, bool]:
    outcome = box.call(ToolCall("t1", name, arguments, json.dumps(arguments)))
    return outcome.content, outcome.is_error


def test_specs_are_described_json_schemas(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        specs = {s.name: s for s in world.toolbox("alice").specs()}
    assert set(specs) >= {
        "shell", "python", "read_file", "write_file", "edit_file", "list_files", "grep",
        "run_method", "notebook", "forum_read", "forum_post", "forum_reply", "forum_search",
        "leaderboard", "submit_predictions", "declare_final", "share_snapshot",
        "fetch_snapshot",
    }  # fmt: skip
    submit = specs["submit_predictions"]
    assert "public half" in submit.description
    final = specs["declare_final"]
    assert final.parameters["required"] == ["scoring_id"]
    for rule in ("declared final, else its best by public PGR", "reproduce the submitted",
                 "sealed test set"):  # fmt: skip
        assert rule in " ".join(final.description.split())
    assert submit.parameters["required"] == ["path", "method"]
    assert submit.parameters["properties"]["seed"]["minimum"] == 0


def test_files_shell_python_and_their_errors(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        box = world.toolbox("alice")
        assert call(box, "write_file", path="a/notes.txt", content="one\ntwo\n")[1] is False
        assert call(box, "edit_file", path="a/notes.txt", old="two", new="three")[1] is False
        assert call(box, "read_file", path="a/notes.txt") == ("one\nthree\n", False)
        assert "a/notes.txt" in call(box, "list_files", recursive=True)[0]
        assert "notes.txt:2:three" in call(box, "grep", pattern="thr+ee", path="a")[0]
        assert call(box, "grep", pattern="absent")[0] == "no matches"
        assert "occurs 0 times" in call(box, "edit_file", path="a/notes.txt", old="x", new="y")[0]
        assert call(box, "read_file", path="../../outside")[1] is True
        out, failed = call(box, "shell", command="echo hi; exit 3")
        assert not failed
        assert out.startswith("exit code 3")
        assert "hi" in out
        out, _ = call(box, "python", code="import numpy\nprint(numpy.arange(3).sum())")
        assert "stdout:\n3" in out


def test_model_mistakes_come_back_as_errors(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        box = world.toolbox("alice")
        bad = box.call(ToolCall("t", "shell", None, "{not json", error="invalid JSON"))
        assert bad.is_error
        assert "not a JSON object: invalid JSON" in bad.content
        assert "no tool named 'rm'" in call(box, "rm", path="x")[0]
        content, failed = call(box, "shell", command="true", timeout=-1)
        assert failed
        assert "timeout: Input should be greater than 0" in content
        # A call read from text that names no tool: the model learns why, the audit takes it.
        nameless = box.call(ToolCall("t", "", None, "read a.txt", error="the JSON does not parse"))
        assert nameless.is_error
        assert nameless.content.startswith("the call names no tool; tools: shell, python")
        assert nameless.content.endswith("; and the JSON does not parse")


def test_bad_arguments_name_each_field_and_show_the_schema(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        box = world.toolbox("alice")
        content, failed = call(box, "read_file", file="a.txt", max_chars=0)
        typo, typo_failed = call(box, "list_files", path=".", recursiv=True)
        schema = next(s.parameters for s in box.specs() if s.name == "read_file")
    assert failed
    problems, shown = content.split(". The arguments must match this JSON schema: ")
    assert problems == (
        "bad arguments for read_file: path: missing (required); "
        "max_chars: Input should be greater than or equal to 1; file: unknown argument"
    )
    assert json.loads(shown) == schema
    assert schema["additionalProperties"] is False  # the model is told, too
    # An unknown key is refused, not silently dropped.
    assert typo_failed
    assert "recursiv: unknown argument" in typo


def test_run_method_then_submit_and_the_budget(tmp_path: Path) -> None:
    with lab(tmp_path, submissions_total=1) as world:
        box = world.toolbox("alice")
        out, failed = call(box, "run_method", method="confident", options={"keep_fraction": 0.4})
        assert not failed, out
        path = next(Path(box.context.sandbox.spec.workspace, "runs").glob("confident-*-seed0.json"))
        answer, failed = call(box, "submit_predictions", path=f"runs/{path.name}", method="conf")
        assert not failed, answer
        assert "public PGR" in answer
        assert "1/1 in all" in answer
        refused, failed = call(box, "submit_predictions", path=f"runs/{path.name}", method="c")
        assert failed
        assert "total budget of 1 submissions used" in refused
        box.context.sandbox.write_file("bad.json", "[0, 1,")
        assert (
            "bad.json is not JSON"
            in call(box, "submit_predictions", path="bad.json", method="m")[0]
        )
        assert call(box, "run_method", method="nope")[1] is True


def test_forum_leaderboard_snapshots_notebook_and_audit(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        alice, bob = world.toolbox("alice"), world.toolbox("bob")
        posted, _ = call(alice, "forum_post", kind="hypothesis", title="soft helps", body="why")
        post_id = posted.removeprefix("posted #")
        assert call(bob, "forum_reply", parent_id=post_id, body="not on toy")[1] is False
        thread, _ = call(bob, "forum_read", post_id=post_id)
        assert "soft helps" in thread
        assert "not on toy" in thread
        assert "soft helps" in call(bob, "forum_search", query="soft")[0]
        assert call(bob, "leaderboard")[0] == "no scorings yet"
        call(alice, "write_file", path="method.py", content="print('mine')\n")
        shared, _ = call(alice, "share_snapshot", note="my method")
        snapshot = shared.split()[1]
        fetched, failed = call(bob, "fetch_snapshot", snapshot_id=snapshot)
        assert not failed, fetched
        assert (
            call(bob, "read_file", path=f"snapshots/{snapshot}/method.py")[0] == "print('mine')\n"
        )
        assert call(alice, "notebook")[0] == "(the notebook is empty)"
        call(alice, "notebook", append="tried soft")
        assert call(alice, "notebook")[0] == "tried soft\n"
        records = world.hub.operator.audit(kind="tool_call", actor="alice")
    assert [r.action for r in records][:2] == ["forum_post", "write_file"]


def test_a_researcher_declares_its_final_result_and_only_its_own(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        alice, bob = world.toolbox("alice"), world.toolbox("bob")
        ids = []
        secrets = world.secrets
        for name, labels in (("weak", secrets.weak[0]), ("ceiling", secrets.ceiling[0])):
            alice.context.sandbox.write_file(f"{name}.json", json.dumps(labels.tolist()))
            answer, failed = call(alice, "submit_predictions", path=f"{name}.json", method=name)
            assert not failed, answer
            ids.append(int(answer.split("#")[1].split(":")[0]))
        before = world.hub.operator.ranking("toy")
        declared, failed = call(alice, "declare_final", scoring_id=ids[0])
        after = world.hub.operator.ranking("toy")
        taken, refused = call(bob, "declare_final", scoring_id=ids[0])
        missing, absent = call(alice, "declare_final", scoring_id=99_999)
    assert not failed
    assert declared == f"scoring #{ids[0]} (weak, no snapshot: unverifiable) is your final result"
    # without a declaration the ranking takes her best by public PGR; with one, the declared
    assert [(r.method, r.chosen_by) for r in before] == [("ceiling", "public")]
    assert [(r.method, r.chosen_by, r.final_scoring_id) for r in after] == [
        ("weak", "final", ids[0])
    ]
    assert refused
    assert f"scoring #{ids[0]} is not one of your scorings" in taken
    assert absent
    assert "scoring #99999 is not one of your scorings" in missing
