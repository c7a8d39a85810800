"""Loading a causal LM and its tokenizer with ``from_pretrained``, and adding LoRA adapters.

    model, tokenizer = load_model(ModelConfig(path="Qwen/Qwen3-4B-Base"), device)
    model = add_lora(model, LoraSettings())          # r 32, alpha 32, rank-stabilised

``path`` is a hub name or a local folder written by ``save_pretrained``; both go through the
same ``from_pretrained`` call. On a GPU the weights load in bf16 (when the card supports it)
and the adapters stay in float32, the usual mixed-precision LoRA recipe; on a CPU everything
is float32.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from aar.core.errors import ConfigError, DataError, MissingDependencyError

# peft still asks for transformers' old gradient-checkpointing name; the warning is not the
# user's to act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


class ModelConfig(BaseModel):
    """Which pretrained model, in which precision and with which attention kernel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="hub name or local folder (from save_pretrained)")
    revision: str | None = Field(None, description="hub revision (branch, tag or commit)")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="auto: bfloat16 on a GPU that supports it, else float32"
    )
    attention: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    gradient_checkpointing: bool = Field(True, description="recompute activations (less memory)")


class LoraSettings(BaseModel):
    """LoRA adapters (peft). The default is the reference's recipe: r 32, alpha 32, rsLoRA."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    r: int = Field(32, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    rank_stabilised: bool = Field(True, description="scale by alpha/sqrt(r) (rsLoRA)")
    target_modules: str | tuple[str, ...] = Field(
        "all-linear", description="'all-linear' or module names such as q_proj,v_proj"
    )


def pick_device(requested: str = "auto") -> torch.device:
    """``auto``: the first visible CUDA device, else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {requested!r} asked for, but no CUDA device is visible")
    return torch.device(requested)


def weight_dtype(config: ModelConfig, device: torch.device) -> torch.dtype:
    if config.dtype != "auto":
        return getattr(torch, config.dtype)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_tokenizer(config: ModelConfig) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.path, revision=config.revision)
    except OSError as err:
        raise DataError(f"cannot load the tokenizer of {config.path!r}: {err}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def load_model(config: ModelConfig, device: torch.device) -> Any:
    """The pretrained causal LM on ``device``, in eval mode, with frozen weights."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model = AutoModelForCausalLM.from_pretrained(
            config.path,
            revision=config.revision,
            dtype=weight_dtype(config, device),
            attn_implementation=config.attention,
        )
    except OSError as err:
        raise DataError(f"cannot load the model {config.path!r}: {err}") from None
    except ImportError as err:  # e.g. flash_attention_2 without the flash-attn package
        raise ConfigError(f"model {config.path!r}: {err}") from None
    model.requires_grad_(False)
    return model.to(device).eval()  # type: ignore[arg-type]


def add_lora(model: Any, settings: LoraSettings, gradient_checkpointing: bool = False) -> Any:
    """``model`` wrapped with fresh, trainable LoRA adapters (float32 even on bf16 weights)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise MissingDependencyError("peft", "hf", "LoRA fine-tuning") from None
    targets = settings.target_modules
    lora = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        use_rslora=settings.rank_stabilised,
        target_modules=targets if isinstance(targets, str) else list(targets),
        task_type="CAUSAL_LM",
    )
    if gradient_checkpointing:
        # transformers 5 renamed it; GPU images often carry older releases with the old name
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False
    return get_peft_model(model, lora, autocast_adapter_dtype=True)


def label_token_ids(tokenizer: Any, words: tuple[str, ...]) -> list[int]:
    """The single token id of each label word; an error names any word that is not one token."""
    ids = []
    for word in words:
        pieces = tokenizer.encode(word, add_special_tokens=False)
        if len(pieces) != 1:
            shown = tokenizer.convert_ids_to_tokens(pieces)
            raise ConfigError(
                f"label word {word!r} is {len(pieces)} tokens {shown} for this tokenizer; "
                "label words must be single tokens (set the task's prompts.*_labels)"
            )
        ids.append(int(pieces[0]))
    if len(set(ids)) != len(ids):
        raise ConfigError(f"label words {words} map to the same token")
    return ids
