"""The language-model path (``aar.w2s.lm`` and the chat / math / code tasks) on tiny Qwen2 and
Qwen3 models built by the tests, loaded through ``from_pretrained`` like the real ones."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from aar.core.errors import ConfigError, DataError, MissingDependencyError
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Texts
from aar.w2s.lm.batching import bucketed_batches, tokenize
from aar.w2s.lm.inference import InferenceConfig, VllmScorer, score_hf
from aar.w2s.lm.models import (
    LoraSettings,
    ModelConfig,
    add_lora,
    label_token_ids,
    load_model,
    load_tokenizer,
)
from aar.w2s.lm.prompts import PromptConfig, render
from aar.w2s.lm.scoring import LabelTokenScorer
from aar.w2s.lm.student import LMConfig, LMStudent
from aar.w2s.parallel import JobPool
from aar.w2s.reference import load_reference
from aar.w2s.tasks import build_task
from aar.w2s.training import TrainConfig
from tests.lmkit import World


def chat_prompts(world: World, n: int) -> tuple[list[str], np.ndarray]:
    rows = load_reference(world.data["chat"], "chat").labeled[:n]
    return [render(r, "chat", PromptConfig()) for r in rows], np.array([r.label for r in rows])


@pytest.mark.parametrize("family", ["weak", "strong"])
def test_label_token_logits_equal_the_full_forward_pass(tiny_lms: World, family: str) -> None:
    path = str(getattr(tiny_lms, family))  # weak: Qwen2, strong: Qwen3
    config = ModelConfig(path=path, gradient_checkpointing=False)
    tokenizer = load_tokenizer(config)
    model = add_lora(load_model(config, torch.device("cpu")), LoraSettings(r=4, alpha=8))
    for name, weight in model.named_parameters():  # lora_B starts at zero: make it count
        if "lora_B" in name:
            torch.nn.init.normal_(weight, std=0.5)
    ids = label_token_ids(tokenizer, (" A", " B"))
    texts, _ = chat_prompts(tiny_lms, 5)
    batch = tokenize(tokenizer, texts, 96).collate(range(5), torch.device("cpu"))
    assert len(set(batch["attention_mask"].sum(1).tolist())) > 1  # padding is exercised
    with torch.no_grad():
        fast = LabelTokenScorer(model, ids)(batch)
        full = model(**batch).logits
    last = batch["attention_mask"].sum(1) - 1
    reference = full[torch.arange(5), last][:, ids]
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)


def test_the_default_lora_is_the_reference_recipe(tiny_lms: World) -> None:
    settings = LoraSettings()
    assert (settings.r, settings.alpha, settings.rank_stabilised) == (32, 32, True)
    model = load_model(ModelConfig(path=str(tiny_lms.strong)), torch.device("cpu"))
    model = add_lora(model, settings)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    assert all("lora_" in n for n in trainable)
    layers = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable}
    assert layers == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    q_proj = model.base_model.model.model.layers[0].self_attn.q_proj
    assert q_proj.scaling["default"] == pytest.approx(32 / math.sqrt(32))  # rsLoRA: α/√r


def test_the_student_learns_its_training_set(tiny_lms: World) -> None:
    texts, labels = chat_prompts(tiny_lms, 48)
    config = LMConfig(
        model=ModelConfig(path=str(tiny_lms.strong)),
        max_length=128,
        train=TrainConfig(epochs=20, batch_size=16, lr=3e-3),
    )
    student = LMStudent(config, 2, (" A", " B"))
    trained = student.fit(Texts(tuple(texts)), np.eye(2)[labels], seed=0)
    probs = trained.predict_proba(Texts(tuple(texts)))
    assert trained.history.train_loss[-1] < 0.5 * trained.history.train_loss[0]
    assert np.mean(probs.argmax(1) == labels) >= 0.9
    np.testing.assert_allclose(probs.sum(1), 1.0)
    features = student.features(Texts(tuple(texts[:6])))
    assert features.shape == (6, 64)
    assert np.isfinite(features).all()


def test_batched_scoring_keeps_the_input_order(tiny_lms: World) -> None:
    config = ModelConfig(path=str(tiny_lms.weak))
    tokenizer = load_tokenizer(config)
    scorer = LabelTokenScorer(load_model(config, torch.device("cpu")), [5, 9])
    texts, _ = chat_prompts(tiny_lms, 20)
    tokens = tokenize(tokenizer, texts, 128)
    batched = score_hf(scorer, tokens, batch_size=7)
    one_by_one = np.vstack([score_hf(scorer, tokenize(tokenizer, [t], 128), 1) for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_long_prompts_keep_their_end(tiny_lms: World) -> None:
    tokenizer = load_tokenizer(ModelConfig(path=str(tiny_lms.weak)))
    texts, _ = chat_prompts(tiny_lms, 10)
    tokens = tokenize(tokenizer, texts, 16)
    whole = tokenize(tokenizer, texts, 100_000)
    assert max(tokens.lengths) == 16
    assert all(cut == full[-len(cut) :] for cut, full in zip(tokens.ids, whole.ids, strict=True))


def test_length_buckets_cover_every_example_once_with_less_padding() -> None:
    lengths = np.random.default_rng(0).integers(10, 1000, size=1000)
    rng = np.random.default_rng(1)
    batches = bucketed_batches(lengths, 16, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))

    def padding(groups: list[np.ndarray]) -> int:
        return sum(int(lengths[g].max() * len(g) - lengths[g].sum()) for g in groups)

    shuffled = np.random.default_rng(2).permutation(1000)
    plain = [shuffled[i : i + 16] for i in range(0, 1000, 16)]
    assert padding(batches) < 0.2 * padding(plain)


def test_label_words_must_be_single_tokens(tiny_lms: World) -> None:
    tokenizer = load_tokenizer(ModelConfig(path=str(tiny_lms.weak)))
    with pytest.raises(ConfigError, match=r"label word ' definitely not' is .* tokens"):
        label_token_ids(tokenizer, (" Yes", " definitely not"))


def test_the_vllm_backend_says_what_to_install(tiny_lms: World) -> None:
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vllm is installed here; the GPU benchmark exercises it")
    texts, labels = chat_prompts(tiny_lms, 8)
    config = LMConfig(
        model=ModelConfig(path=str(tiny_lms.weak)),
        train=TrainConfig(epochs=1, batch_size=8),
        inference=InferenceConfig(backend="vllm"),
    )
    trained = LMStudent(config, 2, (" A", " B")).fit(Texts(tuple(texts)), np.eye(2)[labels], seed=0)
    with pytest.raises(MissingDependencyError, match="pip install 'aar\\[vllm\\]'"):
        trained.predict_proba(Texts(tuple(texts)))


def test_a_reference_task_reads_the_fixed_split_with_sources(tiny_lms: World) -> None:
    task = build_task("math", tiny_lms.options("math"))
    data = task.load(ArtifactCache(None))
    splits = task.splits(data, seed=3)
    assert (len(splits.labeled), len(splits.pool), len(splits.test)) == (96, 192, 128)
    assert task.splits(data, seed=4).test.tolist() == splits.test.tolist()
    assert data.subsets is not None
    assert len(set(data.subsets[splits.test])) > 1
    assert data.student_inputs.texts[0].endswith("Is the proposed solution correct? Answer:")
    sealed = task.sealed_indices(data)  # a quarter of test.jsonl, whole problems
    assert len(sealed) > 200
    public = np.concatenate([splits.labeled, splits.pool, splits.test])
    assert data.groups is not None
    assert not set(data.groups[sealed]) & set(data.groups[public])


def test_reference_task_errors_name_the_problem(
    tiny_lms: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AAR_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="task chat needs data: -o data_dir"):
        build_task("chat", {}).load(ArtifactCache(None))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match="cannot download nobody/nothing from the Hugging Face"):
        build_task("chat", {"hub_dataset": "nobody/nothing"}).load(ArtifactCache(None))
    folder = tmp_path / "chat"
    folder.mkdir()
    for name in ("train_label.jsonl", "test.jsonl", "train_unlabel.jsonl"):
        (folder / name).write_text((tiny_lms.data["chat"] / name).read_text())
    lines = (folder / "train_unlabel.jsonl").read_text().splitlines()
    row = json.loads(lines[2])
    del row["label"]
    lines[2] = json.dumps(row)
    (folder / "train_unlabel.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train_unlabel.jsonl:3: field 'label': missing"):
        build_task("chat", {"data_dir": str(folder)}).load(ArtifactCache(None))
    with pytest.raises(DataError, match="cannot load the tokenizer of"):
        build_task("chat", {"student.model.path": str(tmp_path / "nowhere")}).student(2)
    with pytest.raises(ConfigError, match="option 'kind'"):
        build_task("chat", {"kind": "math"})


def _visible_device(_: int) -> str:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


def test_workers_each_see_one_gpu() -> None:
    with JobPool(2, gpus=(3, 5)) as pool:
        seen = set(pool.map(_visible_device, range(8)))
    assert seen <= {"3", "5"}
    assert seen


class _Logprob:
    def __init__(self, logprob: float) -> None:
        self.logprob = logprob


class _HfBackedLLM:
    """Stands in for ``vllm.LLM`` (vLLM needs CUDA): it loads the LoRA adapter that aar saved,
    with peft, and answers ``generate`` in vLLM's output shapes, honouring
    ``allowed_token_ids`` and ``logprobs_mode="processed_logprobs"`` as vLLM documents them."""

    instances: ClassVar[list[_HfBackedLLM]] = []

    def __init__(self, model: str, **kwargs: Any) -> None:
        self.model_path, self.kwargs = model, kwargs
        _HfBackedLLM.instances.append(self)

    def generate(
        self, prompts: list[str], params: Any, lora_request: Any, use_tqdm: bool
    ) -> list[Any]:
        from peft import PeftModel

        config = ModelConfig(path=self.model_path, gradient_checkpointing=False)
        base = load_model(config, torch.device("cpu"))
        model = PeftModel.from_pretrained(base, lora_request.lora_path)
        tokenizer = load_tokenizer(config)
        allowed = params.allowed_token_ids
        outputs = []
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
            with torch.no_grad():
                logits = model(**ids).logits[0, -1, allowed]
            logprobs = torch.log_softmax(logits, dim=-1).tolist()
            step = {token: _Logprob(lp) for token, lp in zip(allowed, logprobs, strict=True)}
            outputs.append(SimpleNamespace(outputs=[SimpleNamespace(logprobs=[step])]))
        return outputs


def test_the_vllm_backend_scores_what_the_hf_backend_scores(
    tiny_lms: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ModuleType("vllm")
    fake.LLM = _HfBackedLLM  # type: ignore[attr-defined]
    fake.SamplingParams = lambda **kw: SimpleNamespace(**kw)  # type: ignore[attr-defined]
    lora = ModuleType("vllm.lora.request")
    lora.LoRARequest = lambda name, number, path: SimpleNamespace(lora_path=path)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setitem(sys.modules, "vllm.lora", ModuleType("vllm.lora"))
    monkeypatch.setitem(sys.modules, "vllm.lora.request", lora)
    monkeypatch.setattr(VllmScorer, "_engines", {})  # no engine outlives the fake module
    texts, labels = chat_prompts(tiny_lms, 24)
    config = LMConfig(
        model=ModelConfig(path=str(tiny_lms.weak)),
        max_length=4096,
        train=TrainConfig(epochs=3, batch_size=8, lr=3e-3),
    )
    trained = LMStudent(config, 2, (" A", " B")).fit(Texts(tuple(texts)), np.eye(2)[labels], seed=0)
    by_hf = trained.predict_proba(Texts(tuple(texts)))
    served = config.model_copy(update={"inference": InferenceConfig(backend="vllm")})
    trained.student.config = served
    by_vllm = trained.predict_proba(Texts(tuple(texts)))
    np.testing.assert_allclose(by_vllm, by_hf, atol=1e-4)
    engine = _HfBackedLLM.instances[-1]
    assert engine.kwargs["enable_lora"] is True
    assert engine.kwargs["logprobs_mode"] == "processed_logprobs"
    assert engine.kwargs["max_lora_rank"] == 32


def test_the_benchmark_counts_the_parameters_of_the_real_architecture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MFU in benchmarks/gpu_train.py rests on N, the matmul parameters per token: check it
    against Qwen3-4B built on the meta device (no memory, no download)."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    spec = importlib.util.spec_from_file_location(
        "gpu_train", Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_train.py"
    )
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_train", bench)  # its dataclass looks itself up
    spec.loader.exec_module(bench)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(Qwen3Config(**bench.QWEN3_4B))
    matmuls = sum(
        m.weight.numel()
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and ".layers." in name
    )
    assert 3.5e9 < matmuls < 3.7e9  # Qwen3-4B: 4.0B parameters, 0.39B of them the embedding
    seq = 100.0
    attention = 12 * 36 * seq * 32 * 128
    assert bench.flops_per_token(bench.QWEN3_4B, seq, training=True) == 4 * matmuls + attention
    assert bench.flops_per_token(bench.QWEN3_4B, seq, training=False) == (
        2 * matmuls + attention / 3
    )
