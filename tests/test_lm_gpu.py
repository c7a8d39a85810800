"""The language-model path on a CUDA device (``-m gpu``): bf16 weights, float32 adapters,
autocast, fused AdamW. Tiny random models and synthetic prompts, so it needs neither
downloads nor ``../shared/data``; ``benchmarks/gpu_session.sh`` runs it on a lent GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aar.w2s.data import Texts
from aar.w2s.lm.batching import tokenize
from aar.w2s.lm.models import LoraSettings, ModelConfig, add_lora, load_model, load_tokenizer
from aar.w2s.lm.scoring import LabelTokenScorer
from aar.w2s.lm.student import LMConfig, LMStudent
from aar.w2s.parallel import JobPool
from aar.w2s.training import TrainConfig
from tests.lmkit import tiny_model, train_tokenizer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
WORDS = ["apple", "river", "stone", "cloud", "lamp", "tiger", "violet", "engine", "harbor"]


def synthetic_prompts(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], rng.integers(0, 2, size=n)
    for label in labels:
        words = " ".join(rng.choice(WORDS, size=int(rng.integers(5, 40))))
        texts.append(f"{words} {'Verdict: good' if label else 'Verdict: bad'}. Correct? Answer:")
    return texts, labels


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gpu-qwen3")
    texts, _ = synthetic_prompts(200, 0)
    tiny_model("qwen3", folder, train_tokenizer(texts, folder, vocab_size=512), hidden=128)
    return folder


def test_bf16_label_token_logits_match_the_full_forward_pass(model_dir: Path) -> None:
    config = ModelConfig(path=str(model_dir), gradient_checkpointing=False)
    model = add_lora(load_model(config, torch.device("cuda")), LoraSettings(r=8, alpha=8))
    assert next(p for n, p in model.named_parameters() if "lora_A" in n).dtype == torch.float32
    assert model.get_base_model().get_decoder().embed_tokens.weight.dtype == torch.bfloat16
    tokenizer = load_tokenizer(config)
    texts, _ = synthetic_prompts(6, 1)
    batch = tokenize(tokenizer, texts, 128).collate(range(6), torch.device("cuda"))
    ids = [tokenizer.encode(w, add_special_tokens=False)[0] for w in (" No", " Yes")]
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        fast = LabelTokenScorer(model, ids)(batch)
        full = model(**batch).logits.float()
    last = batch["attention_mask"].sum(1) - 1
    torch.testing.assert_close(fast, full[torch.arange(6), last][:, ids], rtol=2e-2, atol=2e-2)


def test_the_student_learns_on_the_gpu(model_dir: Path) -> None:
    texts, labels = synthetic_prompts(256, 2)
    config = LMConfig(
        model=ModelConfig(path=str(model_dir)),
        train=TrainConfig(epochs=4, batch_size=32, lr=3e-3),
        max_length=128,
    )
    student = LMStudent(config, 2, (" No", " Yes"))
    assert student.device.type == "cuda"
    trained = student.fit(Texts(tuple(texts[:192])), np.eye(2)[labels[:192]], seed=0)
    probs = trained.predict_proba(Texts(tuple(texts[192:])))
    assert np.mean(probs.argmax(1) == labels[192:]) > 0.9  # the verdict word decides


def _device_name(_: int) -> str:
    return f"{torch.cuda.device_count()}:{torch.cuda.get_device_name(0)}"


def test_each_worker_sees_one_gpu() -> None:
    with JobPool(1, gpus=(0,)) as pool:
        (seen,) = set(pool.map(_device_name, range(2)))
    assert seen.startswith("1:")
