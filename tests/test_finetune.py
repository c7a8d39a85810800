"""The fine-tuned encoder student on a tiny random BERT the test builds and saves itself."""

from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer, BertConfig, BertModel

from aar.w2s.data import Texts
from aar.w2s.encoders import MINILM, EncoderConfig, resolve_model
from aar.w2s.finetune import FinetuneConfig, FinetuneStudent
from aar.w2s.training import TrainConfig


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(MINILM))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _data(n: int, seed: int) -> tuple[Texts, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    nouns = ["film", "meal", "book", "trip", "song"]
    words = [("awful", "dreadful", "boring"), ("wonderful", "great", "lovely")]
    texts = [f"a {rng.choice(words[y])} {rng.choice(nouns)}" for y in labels]
    return Texts(tuple(texts)), labels


def test_finetuned_student_learns_from_pretrained_state(tiny_bert: Path) -> None:
    config = FinetuneConfig(
        encoder=EncoderConfig(model=str(tiny_bert), batch_size=64),
        train=TrainConfig(epochs=4, batch_size=16, lr=3e-3),
    )
    student = FinetuneStudent(config, n_classes=2)
    train, train_y = _data(120, seed=0)
    test, test_y = _data(60, seed=1)
    trained = student.fit(train, np.eye(2)[train_y], seed=0)
    assert trained.history.train_loss[-1] < trained.history.train_loss[0]
    assert np.mean(trained.predict_proba(test).argmax(1) == test_y) > 0.95
    again = student.fit(train, np.eye(2)[train_y], seed=0).predict_proba(test)
    assert np.allclose(again, trained.predict_proba(test), atol=1e-5)  # same start, same seed
    assert student.features(test).shape == (60, 32)
