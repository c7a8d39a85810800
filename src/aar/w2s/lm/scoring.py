"""Class logits from a causal LM: the logits of two label tokens at the prompt's last position.

    scorer = LabelTokenScorer(model, label_ids=[id_no, id_yes])
    logits = scorer(batch)           # (batch, 2): class 0, class 1

Only the last real token's hidden state goes through the output layer, and only the rows of
the label tokens: the same numbers as ``model(**batch).logits[i, last_i, label_ids]``, without
the (batch × length × vocabulary) logits tensor, which on Qwen's 152k vocabulary is most of a
training step's memory. ``LinearHeadScorer`` puts a fresh linear head on that hidden state
instead (the classification-head variant).
"""

from __future__ import annotations

from typing import Any

import torch


def backbone_and_head(model: Any) -> tuple[Any, Any]:
    """The decoder stack (hidden states after the final norm) and the output layer.

    Works for a plain ``*ForCausalLM`` and for one wrapped by peft: the adapters live inside
    the modules, so calling the inner decoder directly still applies them.
    """
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    return causal_lm.get_decoder(), causal_lm.get_output_embeddings()


def last_hidden(decoder: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The final hidden state at each row's last real token (right-padded batches)."""
    states = decoder(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).last_hidden_state
    last = batch["attention_mask"].sum(dim=1) - 1
    return states[torch.arange(states.shape[0], device=states.device), last]


class LabelTokenScorer(torch.nn.Module):
    """Logits of ``label_ids`` (one per class) as the next token after the prompt."""

    def __init__(self, model: Any, label_ids: list[int]) -> None:
        super().__init__()
        self.model: Any = model
        self.decoder, head = backbone_and_head(model)
        device = head.weight.device
        self.register_buffer("label_ids", torch.tensor(label_ids, device=device), persistent=False)
        self.head = head

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = last_hidden(self.decoder, batch)
        weight = self.head.weight[self.label_ids]
        bias = getattr(self.head, "bias", None)
        logits = hidden @ weight.to(hidden.dtype).T
        if bias is not None:
            logits = logits + bias[self.label_ids].to(hidden.dtype)
        return logits.float()


class LinearHeadScorer(torch.nn.Module):
    """A fresh linear head (float32, trained with the adapters) on the last hidden state."""

    def __init__(self, model: Any, n_classes: int) -> None:
        super().__init__()
        self.model: Any = model
        self.decoder, output = backbone_and_head(model)
        hidden_size = output.weight.shape[1]
        self.classifier = torch.nn.Linear(hidden_size, n_classes, device=output.weight.device)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.classifier(last_hidden(self.decoder, batch).float())
