"""GPU benchmark of the language-model path: LoRA training and label-token inference at
Qwen3-4B-Base's exact shapes, with random weights (nothing to download).

    python benchmarks/gpu_train.py                       # on a GPU, about 3-5 minutes
    python benchmarks/gpu_train.py --shape tiny --device cpu --steps 2   # smoke test, CPU

Rows, all on the same base weights and the same synthetic prompts (random token ids, lengths
uniform in [--min-len, --max-len], so padding matters as it does on real prompts):

- ``hf-trainer``: plain Hugging Face ``Trainer`` with default ``TrainingArguments`` (batch 8)
  on the same LoRA model, the usual causal-LM loss on the answer token (full-vocabulary
  logits at every position, batches padded to their longest prompt).
- ``aar ...``: ``aar.w2s.lm``'s loop (bf16 autocast, length-bucketed batches, label-token
  logits at the last position only, fused AdamW) with and without gradient checkpointing.
- ``aar inference``: ``score_hf`` over the prompts; ``vllm inference`` when vLLM is installed.

Model FLOPs per real (non-pad) token count the useful work only, the same for every row:
4·N (forward 2·N, backward through frozen weights 2·N; N = non-embedding parameters without
the output layer) plus 12·layers·seq·heads·head_dim for attention (the PaLM convention),
and 2·N + 4·layers·seq·heads·head_dim for inference. Recomputation under gradient
checkpointing is not counted. MFU divides by the card's dense bf16 peak (``--peak-tflops``
overrides the table below).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aar.w2s.lm.batching import Tokens
from aar.w2s.lm.inference import score_hf
from aar.w2s.lm.loop import LoopSettings, train_scorer
from aar.w2s.lm.models import LoraSettings, add_lora
from aar.w2s.lm.scoring import LabelTokenScorer
from aar.w2s.training import TrainConfig

QWEN3_4B = dict(
    vocab_size=151936,
    hidden_size=2560,
    intermediate_size=9728,
    num_hidden_layers=36,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=128,
    max_position_embeddings=40960,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)
TINY = dict(
    QWEN3_4B,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    vocab_size=2048,
)
PEAK_BF16_TFLOPS = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100": 989.4,
    "A100": 312.0,
    "L40S": 362.0,
    "A10G": 125.0,
}
LABELS = [15, 16]


@dataclass
class Row:
    name: str
    tokens_per_s: float
    mfu: float | None
    peak_gib: float
    note: str = ""


def build_model(shape: dict[str, Any], device: torch.device) -> Any:
    from transformers import AutoModelForCausalLM, Qwen3Config

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    config = Qwen3Config(**shape)
    config._attn_implementation = "sdpa"
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            model = AutoModelForCausalLM.from_config(config)
    finally:
        torch.set_default_dtype(previous)
    return model.requires_grad_(False).eval()


def synthetic_prompts(args: argparse.Namespace, vocab: int, n: int, seed: int) -> Tokens:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(args.min_len, args.max_len + 1, size=n)
    return Tokens(ids=[rng.integers(100, vocab - 1, size=k).tolist() for k in lengths], pad_id=0)


def flops_per_token(shape: dict[str, Any], mean_len: float, training: bool) -> float:
    d, layers = shape["hidden_size"], shape["num_hidden_layers"]
    attn = shape["num_attention_heads"] * shape["head_dim"]
    kv = shape["num_key_value_heads"] * shape["head_dim"]
    per_layer = d * attn + 2 * d * kv + attn * d + 3 * d * shape["intermediate_size"]
    n = layers * per_layer
    if training:
        return 4 * n + 12 * layers * mean_len * attn
    return 2 * n + 4 * layers * mean_len * attn


def peak_flops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_BF16_TFLOPS.items():  # "H100 PCIe" is checked before "H100"
        if key in name:
            return tflops * 1e12
    return None


def reset_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float:
    if device.type != "cuda":
        return float("nan")
    return torch.cuda.max_memory_allocated(device) / 2**30


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def disable_checkpointing(model: Any) -> None:
    off = (
        getattr(model, "activation_checkpointing_disable", None)
        or model.gradient_checkpointing_disable
    )
    off()


def run_aar(
    base: Any, tokens: Tokens, args: argparse.Namespace, checkpointing: bool, micro: int
) -> tuple[float, float]:
    """Real tokens per second and peak GiB of aar's loop over ``tokens`` (after a warm-up)."""
    device = next(base.parameters()).device
    reset_memory(device)
    model = add_lora(base, LoraSettings(), gradient_checkpointing=checkpointing)
    scorer = LabelTokenScorer(model, LABELS)
    settings = LoopSettings(
        TrainConfig(epochs=1, batch_size=args.batch_size, lr=1e-4),
        micro_batch_size=micro,
        warmup_fraction=0.0,
        max_grad_norm=1.0,
    )
    rng = np.random.default_rng(0)
    warm_n = args.batch_size * 2
    warm = Tokens(tokens.ids[:warm_n], tokens.pad_id)
    timed = Tokens(tokens.ids[warm_n:], tokens.pad_id)
    targets = np.eye(2)[rng.integers(0, 2, size=len(tokens.ids))]
    train_scorer(scorer, warm, targets[:warm_n], settings, seed=0)
    sync(device)
    started = time.perf_counter()
    train_scorer(scorer, timed, targets[warm_n:], settings, seed=1)
    sync(device)
    seconds = time.perf_counter() - started
    memory = peak_gib(device)
    model.unload()
    if checkpointing:
        disable_checkpointing(base)
    return float(timed.lengths.sum()) / seconds, memory


def run_trainer(base: Any, tokens: Tokens, args: argparse.Namespace) -> tuple[float, float]:
    """The same measurement for a plain ``Trainer`` with default arguments."""
    from transformers import Trainer, TrainerCallback, TrainingArguments

    device = next(base.parameters()).device
    reset_memory(device)
    model = add_lora(base, LoraSettings())
    rows = [
        {
            "input_ids": [*ids, LABELS[0]],
            "attention_mask": [1] * (len(ids) + 1),
            "labels": [*([-100] * len(ids)), LABELS[0]],
        }
        for ids in tokens.ids
    ]
    batch = 8  # TrainingArguments' default per_device_train_batch_size
    warm_steps = 2
    steps = len(rows) // batch
    marks: dict[str, float] = {}

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, targs: Any, state: Any, control: Any, **_: Any) -> None:
            if state.global_step == warm_steps:
                sync(device)
                marks["start"] = time.perf_counter()
            if state.global_step == steps:
                sync(device)
                marks["end"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            output_dir=out,
            max_steps=steps,
            report_to="none",
            save_strategy="no",
            logging_strategy="no",
        )
        trainer = Trainer(
            model=model,
            args=targs,
            train_dataset=rows,
            data_collator=pad_to_longest,
            callbacks=[Clock()],
        )
        trainer.train()
    memory = peak_gib(device)
    mean_len = float(tokens.lengths.mean()) + 1
    timed_tokens = (steps - warm_steps) * batch * mean_len
    model.unload()
    return timed_tokens / (marks["end"] - marks["start"]), memory


def pad_to_longest(features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
    """Right-pad each batch to its longest row (what DataCollatorForSeq2Seq does)."""
    width = max(len(f["input_ids"]) for f in features)
    out = {}
    for key, fill in (("input_ids", 0), ("attention_mask", 0), ("labels", -100)):
        out[key] = torch.tensor([f[key] + [fill] * (width - len(f[key])) for f in features])
    return out


def run_inference(base: Any, tokens: Tokens, batch_size: int) -> tuple[float, float]:
    device = next(base.parameters()).device
    reset_memory(device)
    model = add_lora(base, LoraSettings())  # as a trained student predicts: adapters unmerged
    scorer = LabelTokenScorer(model, LABELS)
    score_hf(scorer, Tokens(tokens.ids[:batch_size], tokens.pad_id), batch_size)  # warm-up
    sync(device)
    started = time.perf_counter()
    score_hf(scorer, tokens, batch_size)
    sync(device)
    seconds = time.perf_counter() - started
    model.unload()
    return float(tokens.lengths.sum()) / seconds, peak_gib(device)


def measured(name: str, run: Any, flops: float, mfu: Any) -> Row:
    """One row; an out-of-memory error becomes a row that says so instead of ending the run."""
    try:
        rate, memory = run()
    except torch.cuda.OutOfMemoryError:
        return Row(name, float("nan"), None, float("nan"), "out of memory")
    return Row(name, rate, mfu(rate, flops), memory)


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=["qwen3-4b", "tiny"], default="qwen3-4b")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=8, help="timed optimizer steps per row")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--min-len", type=int, default=128)
    parser.add_argument("--max-len", type=int, default=1024)
    parser.add_argument("--inference-prompts", type=int, default=512)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--skip-trainer", action="store_true")
    args = parser.parse_args()

    device = torch.device(args.device)
    shape = QWEN3_4B if args.shape == "qwen3-4b" else TINY
    started = time.perf_counter()
    base = build_model(shape, device)
    n_train = args.batch_size * (args.steps + 2)
    tokens = synthetic_prompts(args, shape["vocab_size"], n_train, seed=0)
    mean_len = float(tokens.lengths.mean())
    peak = peak_flops(device, args.peak_tflops)
    train_flops = flops_per_token(shape, mean_len, training=True)

    def mfu(rate: float, per_token: float) -> float | None:
        return rate * per_token / peak if peak else None

    rows: list[Row] = []
    if not args.skip_trainer:
        run = lambda: run_trainer(base, tokens, args)  # noqa: E731
        rows.append(measured("hf-trainer defaults (batch 8)", run, train_flops, mfu))
    for name, checkpointing, micro in (
        ("aar default (grad ckpt, micro 8)", True, 8),
        ("aar no grad ckpt (micro 8)", False, 8),
        (f"aar grad ckpt (micro {args.batch_size})", True, args.batch_size),
    ):
        run = lambda c=checkpointing, m=micro: run_aar(base, tokens, args, c, m)  # noqa: E731
        rows.append(measured(name, run, train_flops, mfu))
    infer = synthetic_prompts(args, shape["vocab_size"], args.inference_prompts, seed=1)
    infer_flops = flops_per_token(shape, float(infer.lengths.mean()), training=False)
    run = lambda: run_inference(base, infer, batch_size=32)  # noqa: E731
    rows.append(measured("aar inference (hf, batch 32)", run, infer_flops, mfu))
    if not vllm_available():
        rows.append(Row("vllm inference", float("nan"), None, float("nan"), "not installed"))

    print_table(rows, device, args, mean_len, time.perf_counter() - started)


def print_table(
    rows: list[Row], device: torch.device, args: argparse.Namespace, mean_len: float, seconds: float
) -> None:
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    dtype = "bf16" if device.type == "cuda" else "float32"
    print(f"\n{args.shape} shapes, random {dtype} weights · {card} · torch {torch.__version__}")
    print(
        f"prompts {args.min_len}-{args.max_len} tokens (mean {mean_len:.0f}), "
        f"batch {args.batch_size}, {args.steps} timed steps per row\n"
    )
    print("| run | real tokens/s | MFU | peak GiB | note |")
    print("|---|---|---|---|---|")
    trainer = next((r for r in rows if r.name.startswith("hf-trainer")), None)
    for row in rows:
        mfu = f"{100 * row.mfu:.1f}%" if row.mfu is not None else "n/a"
        note = row.note
        if trainer and row.name.startswith("aar") and "inference" not in row.name:
            note = f"{row.tokens_per_s / trainer.tokens_per_s:.2f}× hf-trainer"
        print(f"| {row.name} | {row.tokens_per_s:,.0f} | {mfu} | {row.peak_gib:.1f} | {note} |")
    print(f"\nwall time {seconds:.0f} s")


if __name__ == "__main__":
    main()
