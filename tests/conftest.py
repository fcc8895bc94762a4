"""Shared fixtures: a tiny labelled corpus written on the fly and a config that trains on it in seconds."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import settings

from seqlab.config.settings import Config, load_config

# Property tests without an explicit example count use the profile: "ci" keeps the suite fast, "long"
# (HYPOTHESIS_PROFILE=long) is the run recorded in docs/reliability.md.
settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("long", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

FOOD = ["eat", "peel", "slice", "bake", "wash"]
BIZ = ["shares", "stock", "engineers", "revenue", "investors"]


def tiny_sentences(count: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Sentences where *apple* is a fruit after a food verb and a company before a business noun."""
    rng = random.Random(seed)
    out = []
    for k in range(count):
        apple = rng.choice(["apple", "Apple"])
        if k % 2 == 0:
            words = ["I", rng.choice(FOOD), "the", apple, "."]
            tags = ["O", "O", "O", "B-FRUIT", "O"]
        else:
            words = ["the", apple, rng.choice(BIZ), "rose", "today", "."]
            tags = ["O", "B-ORG", "O", "O", "O", "O"]
        if k % 5 == 0:
            words = ["General", "Motors", "and"] + words
            tags = ["B-ORG", "I-ORG", "O"] + tags
        out.append((words, tags))
    return out


def write_conll(path: Path, sentences: list[tuple[list[str], list[str]]], sep: str = "\t") -> Path:
    path.write_text("".join("".join(f"{w}{sep}{t}\n" for w, t in zip(ws, ts)) + "\n" for ws, ts in sentences), encoding="utf-8")
    return path


@pytest.fixture
def tiny_data(tmp_path: Path) -> dict[str, Path]:
    return {
        "train": write_conll(tmp_path / "train.conll", tiny_sentences(60, 1)),
        "dev": write_conll(tmp_path / "dev.conll", tiny_sentences(20, 2)),
        "test": write_conll(tmp_path / "test.conll", tiny_sentences(20, 3)),
    }


def tiny_overrides(data: dict[str, Path], out: Path) -> list[str]:
    return [
        f"data.train={data['train']}",
        f"data.dev={data['dev']}",
        f"data.test={data['test']}",
        "model.embedding.dim=16",
        "model.encoder.hidden=16",
        "train.optimizer=adam",
        "train.lr=0.01",
        "train.epochs=3",
        "train.batch_size=8",
        # The small model the tests were written for: no dropout, no character features, N(0, 1) vectors,
        # a constant learning rate (the built-in defaults are the measured recipe of docs/recipes.md).
        "model.embedding.dropout=0",
        "model.embedding.word_dropout=0",
        "model.encoder.dropout=0",
        "model.embedding.char.kind=none",
        "model.embedding.init=normal",
        "train.lr_decay=0",
        "train.patience=10",
        "data.normalize_digits=false",
        f"output_dir={out}",
    ]


def train_variants(base: Path, variants: dict[str, list[str]], test_sentences: int = 20) -> dict:
    """The tiny corpus written under ``base`` and one model per variant (its overrides on top of
    ``tiny_overrides``) trained in ``base / name``; returns ``base`` and the data paths."""
    from seqlab.train.run import train

    splits = (("train", 60, 1), ("dev", 20, 2), ("test", test_sentences, 3))
    data = {name: write_conll(base / f"{name}.conll", tiny_sentences(n, seed)) for name, n, seed in splits}
    for name, extra in variants.items():
        train(load_config(None, tiny_overrides(data, base / name) + extra), progress=False)
    return {"base": base, **data}


@pytest.fixture
def tiny_config(tiny_data: dict[str, Path], tmp_path: Path) -> Config:
    return load_config(None, tiny_overrides(tiny_data, tmp_path / "model"))


@pytest.fixture(scope="session")
def tiny_transformer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-dim BERT and its WordPiece tokenizer saved with ``save_pretrained`` (built here, no downloads)."""
    from tests.tiny_transformer import build_tiny_transformer

    return build_tiny_transformer(tmp_path_factory.mktemp("tiny_bert"))
