"""Encoder loading and pooling against reference computations on the real bundled MiniLM."""

from pathlib import Path

import numpy as np
import pytest
import torch

from aar.w2s.cache import ArtifactCache
from aar.w2s.encoders import (
    MINILM,
    EncoderConfig,
    TextEncoder,
    embed,
    embed_spans,
    resolve_model,
    span_masks,
)

TEXTS = ["Paris is a city in France.", "Osaka is a city in Peru.", "A short one."]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(EncoderConfig())


def test_default_model_loads_offline_from_the_pypi_package() -> None:
    path = Path(resolve_model(MINILM))
    assert (path / "config.json").is_file()
    assert resolve_model("some/other-model") == "some/other-model"


def test_last_layer_matches_sentence_transformers(encoder: TextEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(resolve_model(MINILM), device="cpu").encode(TEXTS)
    ours = encoder.mean_pooled(TEXTS, [6])[6]
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    assert np.allclose(ours, reference, atol=1e-5)


def test_layer_zero_is_the_embedding_layer_output(encoder: TextEncoder) -> None:
    batch = encoder.tokenize(TEXTS[:1])
    with torch.no_grad():
        tokens = encoder.model.embeddings(input_ids=batch["input_ids"])[0]
    assert np.allclose(encoder.mean_pooled(TEXTS[:1], [0])[0][0], tokens.mean(0).numpy(), atol=1e-5)


def test_span_pooling_matches_picking_tokens_by_hand(encoder: TextEncoder, tmp_path: Path) -> None:
    text = TEXTS[0]
    spans = [((0, 5), (19, 25))]  # "Paris", "France"
    pooled = embed_spans([text], spans, EncoderConfig(), [6], ArtifactCache(tmp_path))[6]
    encoding = encoder.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        states = encoder.model(**encoding).last_hidden_state[0]
    for k, (start, end) in enumerate(spans[0]):
        tokens = sorted({encoding.char_to_token(i) for i in range(start, end)})
        assert np.allclose(pooled[0, k], states[tokens].mean(0).numpy(), atol=1e-5)


def test_span_that_covers_no_token_is_refused() -> None:
    offsets = torch.tensor([[[0, 0], [0, 5], [6, 8], [0, 0]]])
    with pytest.raises(ValueError, match="covers no token"):
        span_masks(offsets, [[(20, 30)]])
    assert span_masks(offsets, [[(0, 5)]]).tolist() == [[[0.0, 1.0, 0.0, 0.0]]]


def test_embeddings_are_cached_by_texts(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    first = embed(TEXTS, EncoderConfig(), [6], cache)[6]
    assert len(list((tmp_path / "embeddings").glob("*.npz"))) == 1
    again = embed(TEXTS, EncoderConfig(), [6], cache)[6]
    assert np.array_equal(first, again)
    embed(TEXTS[:2], EncoderConfig(), [6], cache)
    assert len(list((tmp_path / "embeddings").glob("*.npz"))) == 2
