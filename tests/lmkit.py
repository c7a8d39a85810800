"""Tiny causal LMs the tests build themselves: a BPE tokenizer trained on the test's own texts
(the ``tokenizers`` library) and random Qwen3 / Qwen2 configs, saved with ``save_pretrained``
so the code under test loads them through the real ``from_pretrained`` path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aar.w2s.lm.prompts import PromptConfig, render
from aar.w2s.reference import convert, load_reference

SPECIAL = "<|endoftext|>"
LABEL_WORDS = (" A", " B", " Yes", " No")


def train_tokenizer(texts: Iterable[str], folder: Path, vocab_size: int = 1024) -> int:
    """Train a byte-level BPE on ``texts``, save it in ``folder``; returns its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[SPECIAL],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = list(texts) + [word * 50 for word in LABEL_WORDS]  # label words become one token
    tokenizer.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=SPECIAL, pad_token=SPECIAL)
    fast.save_pretrained(folder)
    return int(tokenizer.get_vocab_size())


def tiny_model(
    family: str, folder: Path, vocab_size: int, hidden: int = 64, layers: int = 2
) -> Path:
    """A random ``family`` (qwen3 or qwen2) causal LM saved in ``folder`` beside its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config, Qwen3Config

    shapes = dict(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    config = (
        Qwen3Config(head_dim=hidden // 4, **shapes) if family == "qwen3" else Qwen2Config(**shapes)
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder


def tiny_pair(texts: list[str], root: Path) -> tuple[Path, Path]:
    """A weak Qwen2 (hidden 32, 1 layer) and a strong Qwen3 (hidden 64, 2 layers) sharing one
    trained tokenizer, like Qwen1.5-0.5B-Chat and Qwen3-4B-Base share Qwen's vocabulary."""
    weak, strong = root / "weak-qwen2", root / "strong-qwen3"
    for folder in (weak, strong):
        vocab = train_tokenizer(texts, folder)
    tiny_model("qwen2", weak, vocab, hidden=32, layers=1)
    tiny_model("qwen3", strong, vocab, hidden=64, layers=2)
    return weak, strong


def reference_folders(shared: Path, root: Path) -> dict[str, Path]:
    """``chat`` (hh-rlhf pairs) and ``math`` (GSM8K model solutions) in the reference layout."""
    out = {"chat": root / "chat", "math": root / "math"}
    convert.convert("hh-rlhf", shared / "hh-rlhf" / "harmless-base-test.jsonl.gz", out["chat"])
    convert.convert("gsm8k", shared / "gsm8k" / "example_model_solutions.jsonl", out["math"])
    return out


@dataclass(frozen=True)
class World:
    data: dict[str, Path]
    weak: Path
    strong: Path

    def options(self, kind: str, **extra: Any) -> dict[str, Any]:
        """Task options for a small, fast run of ``kind`` on the tiny models."""
        options: dict[str, Any] = {
            "data_dir": str(self.data[kind]) if kind in self.data else None,
            "n_labeled": 96,
            "n_pool": 192,
            "n_test": 128,
            "teacher.model.path": str(self.weak),
            "student.model.path": str(self.strong),
        }
        for role in ("teacher", "student"):
            options[f"{role}.max_length"] = 192
            options[f"{role}.train.lr"] = 3e-3
            options[f"{role}.train.batch_size"] = 16
            options[f"{role}.train.epochs"] = 2
        return options | extra


def build_world(shared: Path, root: Path) -> World:
    data = reference_folders(shared, root / "data")
    prompts = PromptConfig()
    texts = []
    for kind, folder in data.items():
        rows = load_reference(folder, kind)
        texts += [render(row, kind, prompts) for row in rows.labeled[:300]]
    weak, strong = tiny_pair(texts, root / "models")
    return World(data, weak, strong)
