"""Whole runs of the language-model tasks on the tiny Qwen models (``-m slow``; CI runs them):
teacher → soft labels → transfer → PGR through the command line, every method on a public
bundle, the Ray executor, and the GPU benchmark's CPU smoke run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aar.core.records import ExperimentRecord
from aar.w2s.cache import ArtifactCache
from aar.w2s.methods import METHODS
from aar.w2s.public import PublicBundle, build_bundle, run_on_bundle
from aar.w2s.runner import ExperimentSpec, run_experiment
from tests.lmkit import World

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def aar_experiment(world: World, cache: Path, out: Path) -> subprocess.CompletedProcess[str]:
    options = [f"{key}={value}" for key, value in world.options("math").items()]
    return subprocess.run(
        [sys.executable, "-m", "aar", "experiment", "-t", "math", "-m", "vanilla",
         "-m", "confident", "-s", "2", "--min-gap", "1e-9", "--json", str(out),
         *[arg for option in options for arg in ("-o", option)]],
        capture_output=True, text=True, timeout=600,
        env={"AAR_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin", "COLUMNS": "160",
             "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip


def test_a_math_experiment_from_the_command_line(tiny_lms: World, tmp_path: Path) -> None:
    started = time.perf_counter()
    first = aar_experiment(tiny_lms, tmp_path / "cache", tmp_path / "first.json")
    cold = time.perf_counter() - started
    assert first.returncode in (0, 1), first.stderr  # 1: a gap too small for a PGR
    record = ExperimentRecord.load(tmp_path / "first.json")
    assert record.task.name == "math"
    assert "accuracy per subset" in first.stdout
    generators = {s.name for s in record.subsets}
    assert len(generators) > 1
    assert all(s.transfer.keys() == {"vanilla", "confident"} for s in record.subsets)
    for result in record.methods:
        gap = record.ceiling.mean - record.weak.mean
        if result.pgr is not None:  # the reference computation of PGR
            expected = (result.transfer.mean - record.weak.mean) / gap
            assert result.pgr.value == pytest.approx(expected)
        else:
            assert "gap" in (result.pgr_error or "")
    assert list((tmp_path / "cache" / "weak").glob("*.npz"))

    started = time.perf_counter()
    second = aar_experiment(tiny_lms, tmp_path / "cache", tmp_path / "second.json")
    cached = time.perf_counter() - started
    again = ExperimentRecord.load(tmp_path / "second.json")
    assert second.returncode == first.returncode
    assert again.weak_acc == record.weak_acc
    assert again.ceiling_acc == record.ceiling_acc
    assert cached < cold


def test_every_method_runs_on_a_chat_bundle(tiny_lms: World, tmp_path: Path) -> None:
    options = tiny_lms.options("chat", n_labeled=48, n_pool=96, n_test=64)
    bundle, secrets = build_bundle("chat", options, seeds=(0,), cache=ArtifactCache(tmp_path))
    loaded = PublicBundle.load(bundle.save(tmp_path / "bundle"))
    assert loaded.pool_x.dtype.kind == "U"
    assert loaded.test_x[0].endswith("A or B? Answer:")
    assert len(secrets.test_labels) == 64
    for method in METHODS.names():
        labels = run_on_bundle(loaded, method, {}, seed=0)
        assert labels.shape == (64,), method
        assert set(np.unique(labels)) <= {0, 1}, method


def test_experiments_run_as_ray_tasks(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    spec = ExperimentSpec(
        task="toy",
        task_options={"n_examples": 2000, "n_labeled": 100, "n_test": 500},
        methods=("vanilla",),
        seeds=(0, 1),
        cache_dir=tmp_path,
        executor="ray",
        ray_gpus=0,
    )
    on_ray = run_experiment(spec)
    local = run_experiment(ExperimentSpec(**{**spec.__dict__, "executor": "local"}))
    assert on_ray.weak_acc == local.weak_acc
    assert on_ray.methods[0].transfer_acc == local.methods[0].transfer_acc


def test_the_gpu_benchmark_runs_on_a_cpu() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_train.py"), "--shape", "tiny",
         "--device", "cpu", "--steps", "2", "--batch-size", "8", "--min-len", "16",
         "--max-len", "64", "--inference-prompts", "32"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| hf-trainer defaults (batch 8) |" in result.stdout
    assert "× hf-trainer" in result.stdout


def test_a_code_experiment_on_humaneval_rows(
    tiny_lms: World, shared_data: Path, tmp_path: Path
) -> None:
    from aar.sandbox.programs import check_programs
    from aar.w2s.reference.convert import convert
    from tests.sandboxkit import require_bwrap

    require_bwrap()
    source = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    convert("humaneval", source, tmp_path / "code", check=check_programs)
    options = tiny_lms.options("code", data_dir=str(tmp_path / "code"))
    spec = ExperimentSpec(
        task="code", task_options=options, methods=("vanilla",), seeds=(0,),
        cache_dir=tmp_path / "cache", workers=1, min_gap=1e-9,
    )  # fmt: skip
    record = run_experiment(spec)
    assert {s.name for s in record.subsets} >= {"canonical", "mutant:constant"}
    assert 0 <= record.methods[0].transfer.mean <= 1
