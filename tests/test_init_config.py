"""``seqlab init config``: the written config loads, says how to run it, follows the data (format,
scheme, task, sizes) and trains as written on an NER corpus and a CoNLL-U POS corpus."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqlab.cli.init_config import epochs_for, hidden_size, recommend
from seqlab.cli.main import main
from seqlab.config.settings import load_config
from tests.conftest import tiny_sentences, write_conll

ROOT = Path(__file__).resolve().parent.parent
TINY_CONLLU = ROOT / "tests" / "data" / "tiny.conllu"


def test_the_ner_config_trains_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train = write_conll(tmp_path / "train.conll", tiny_sentences(60, 1))
    dev = write_conll(tmp_path / "dev.conll", tiny_sentences(20, 2))
    out = tmp_path / "ner.yaml"
    assert main(["init", "config", "--train", str(train), "--dev", str(dev), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# Run: seqlab train --config {out}"
    config = load_config(out)
    assert (config.data.format, config.data.tag_scheme, config.model.decoder.kind, config.train.metric) == ("conll", "bio", "crf", "f1")
    assert config.train.epochs == 100 and config.model.encoder.hidden == 64  # a few hundred tokens: the most epochs, the smallest size
    assert main(["-q", "train", "--config", str(out), "--output", str(tmp_path / "model")]) == 0
    assert (tmp_path / "model" / "weights.safetensors").is_file()
    assert main(["init", "config", "--train", str(train), "--out", str(out)]) == 1  # no silent overwrite
    assert "exists" in capsys.readouterr().err


def test_a_conllu_pos_corpus_gets_labels_a_softmax_and_accuracy(tmp_path: Path) -> None:
    text = recommend(str(TINY_CONLLU), str(TINY_CONLLU))
    raw = yaml.safe_load(text)
    assert raw["data"]["format"] == "conllu" and raw["data"]["tag_scheme"] == "none"
    assert raw["model"]["decoder"]["kind"] == "softmax" and raw["train"]["metric"] == "accuracy"
    out = tmp_path / "pos.yaml"
    out.write_text(text, encoding="utf-8")
    assert main(["-q", "train", "--config", str(out), "--output", str(tmp_path / "pos")]) == 0


def test_without_a_dev_file_every_epoch_is_trained(tmp_path: Path) -> None:
    train = write_conll(tmp_path / "train.conll", tiny_sentences(30, 1))
    config = yaml.safe_load(recommend(str(train)))
    assert config["data"]["dev"] is None and config["train"]["patience"] is None


def test_the_task_must_fit_the_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "config", "--train", str(TINY_CONLLU), "--task", "ner"]) == 1
    assert "no spans to find" in capsys.readouterr().err
    train = write_conll(tmp_path / "train.conll", tiny_sentences(30, 1))
    as_labels = yaml.safe_load(recommend(str(train), task="pos"))
    assert as_labels["data"]["tag_scheme"] == "none" and as_labels["model"]["decoder"]["kind"] == "softmax"


def test_sizes_follow_the_corpus() -> None:
    assert [hidden_size(n, "balanced") for n in (1_000, 29_999, 30_000, 299_999, 300_000)] == [64, 64, 100, 100, 200]
    assert hidden_size(203_621, "speed") == 50
    assert [epochs_for(n) for n in (10, 20_000, 38_000, 203_621, 10_000_000)] == [100, 100, 53, 20, 20]
    assert yaml.safe_load(recommend(str(TINY_CONLLU), goal="speed"))["model"]["embedding"]["dim"] == 50
