"""Hostile transformer directories (for training, or inside a saved model): nothing in them runs code,
prompts on standard input, is unpickled, or makes seqlab build a network larger than its weights."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqlab.config.settings import load_config
from seqlab.errors import ModelError
from seqlab.tagger.inference import Tagger
from seqlab.train.run import train
from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parent.parent
PLANTED = """
from pathlib import Path
Path({marker!r}).write_text("ran")
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
class EvilConfig(BertConfig):
    model_type = "evil-net"
class EvilModel(BertModel):
    config_class = EvilConfig
class EvilTokenizer(PreTrainedTokenizerFast):
    pass
"""


def plant(directory: Path, marker: Path, layout: str) -> None:
    """Put a module that writes ``marker`` when imported into ``directory`` and point its files at it,
    in one of several layouts that transformers would follow to custom code."""
    (directory / "evil.py").write_text(PLANTED.format(marker=str(marker)), encoding="utf-8")
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    tokenizer_path = directory / "tokenizer_config.json"
    tokenizer = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    if layout == "model":
        config.update(model_type="evil-net", auto_map={"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"})
    elif layout == "known type":  # a known model_type still points at custom code
        config["auto_map"] = {"AutoModel": "evil.EvilModel"}
    elif layout == "tokenizer":
        tokenizer["auto_map"] = {"AutoTokenizer": [None, "evil.EvilTokenizer"]}
    elif layout == "upstream":  # code in another hub repository
        config["auto_map"] = {"AutoModel": "someone/elsewhere--evil.EvilModel"}
    config_path.write_text(json.dumps(config), encoding="utf-8")
    tokenizer_path.write_text(json.dumps(tokenizer), encoding="utf-8")


def seqlab(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "seqlab", *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=300)


def one_line_error(run: subprocess.CompletedProcess[str], command: str) -> str:
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr and "[y/N]" not in run.stderr + run.stdout
    message = run.stderr.strip().splitlines()[-1]
    assert message.startswith(f"seqlab {command}: error: ")
    return message


@pytest.fixture
def trained(tiny_transformer: Path, tiny_data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "m"
    keys = [*tiny_overrides(tiny_data, out), "model.embedding.dim=0", f"model.embedding.transformer.model={tiny_transformer}", "train.epochs=1"]
    train(load_config(None, keys), progress=False)
    return out


@pytest.mark.parametrize("layout", ["model", "known type", "tokenizer", "upstream"])
def test_a_transformer_directory_naming_custom_code_is_refused_for_training_without_a_prompt(tiny_transformer: Path, tmp_path: Path, layout: str) -> None:
    source = tmp_path / "bert"
    shutil.copytree(tiny_transformer, source)
    marker = tmp_path / "ran"
    plant(source, marker, layout)
    run = seqlab("train", "--config", "configs/apple_lstm.yaml", "--set", f"model.embedding.transformer.model={source}", "--dry-run", stdin="y\nyes\n")
    assert "custom code" in one_line_error(run, "train")
    assert not marker.exists()


@pytest.mark.parametrize("layout", ["model", "tokenizer"])
def test_custom_code_planted_in_a_saved_model_is_refused_and_the_input_is_not_read(trained: Path, tmp_path: Path, layout: str) -> None:
    model = tmp_path / "model"
    shutil.copytree(trained, model)
    marker = tmp_path / "ran"
    plant(model / "transformer", marker, layout)
    run = seqlab("predict", "--model", str(model), "--input", "-", stdin="yes\ny\nI like eating apple !\n")
    assert "custom code" in one_line_error(run, "predict")
    assert not marker.exists()
    with pytest.raises(ModelError, match="custom code"):
        Tagger.load(model)


def test_the_loader_alone_asks_nothing_and_runs_nothing(tiny_transformer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the directory check out of the way, transformers itself is told not to trust remote code and
    cannot read the answer from standard input."""
    from seqlab.config.model import TransformerConfig
    from seqlab.nn import backbone as transformer

    source = tmp_path / "bert"
    shutil.copytree(tiny_transformer, source)
    marker = tmp_path / "ran"
    plant(source, marker, "model")
    monkeypatch.setattr(transformer, "refuse_unsafe", lambda directory: None)
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    with pytest.raises(ModelError):
        transformer.load_backbone(TransformerConfig(model=str(source)))
    assert not marker.exists() and sys.stdin.read() == "y\n"


def test_pickled_weights_are_refused_with_how_to_convert_them(tiny_transformer: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    source = tmp_path / "bert"
    shutil.copytree(tiny_transformer, source)
    torch.save(load_file(str(source / "model.safetensors")), source / "pytorch_model.bin")  # the layout of older checkpoints
    (source / "model.safetensors").unlink()
    run = seqlab("train", "--config", "configs/apple_lstm.yaml", "--set", f"model.embedding.transformer.model={source}", "--dry-run")
    message = one_line_error(run, "train")
    assert "pickled" in message and "pytorch_model.bin" in message and "safe_serialization=True" in message


def test_an_enlarged_transformer_config_in_a_saved_model_is_refused_before_it_is_built(trained: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(trained, model)
    path = model / "transformer" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(hidden_size=2048, intermediate_size=8192, num_hidden_layers=12, num_attention_heads=16)  # ~600M numbers
    path.write_text(json.dumps(config), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ModelError, match=r"config.json: describes a network of [\d,]+ numbers, the model's weights file holds [\d,]+"):
        Tagger.load(model)
    assert time.perf_counter() - start < 30  # counted on the meta device, never allocated (building it took 15 s and 2.8 GB)
    config.update(hidden_size=32, intermediate_size=65, num_hidden_layers=2, num_attention_heads=2)  # one number more per layer
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelError, match=r"describes a network of"):
        Tagger.load(model)


def test_a_transformer_config_beyond_the_size_bound_is_refused_for_training(tiny_transformer: Path, tmp_path: Path) -> None:
    source = tmp_path / "bert"
    shutil.copytree(tiny_transformer, source)
    path = source / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(vocab_size=40_000_000)  # 1.28e9 numbers in the word embedding alone
    path.write_text(json.dumps(config), encoding="utf-8")
    run = seqlab("train", "--config", "configs/apple_lstm.yaml", "--set", f"model.embedding.transformer.model={source}", "--dry-run")
    assert "more than a seqlab model holds" in one_line_error(run, "train")


def test_a_fifo_or_device_as_the_transformer_config_is_refused_without_blocking(trained: Path, tmp_path: Path) -> None:
    import os

    model = tmp_path / "model"
    shutil.copytree(trained, model)
    config = model / "transformer" / "config.json"
    config.unlink()
    os.mkfifo(config)
    with pytest.raises(ModelError, match="config.json: not a regular file"):
        Tagger.load(model)
    config.unlink()
    config.symlink_to("/dev/zero")
    with pytest.raises(ModelError, match="config.json: not a regular file"):
        Tagger.load(model)


def test_a_vocab_txt_without_tokenizer_json_is_converted_and_no_tokenizer_at_all_is_one_line(tiny_transformer: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from seqlab.config.model import TransformerConfig
    from seqlab.nn.backbone import load_backbone

    source = tmp_path / "bert"
    shutil.copytree(tiny_transformer, source)
    vocab = AutoTokenizer.from_pretrained(str(source)).get_vocab()
    (source / "vocab.txt").write_text("".join(f"{w}\n" for w, _ in sorted(vocab.items(), key=lambda item: item[1])), encoding="utf-8")
    (source / "tokenizer.json").unlink()
    assert load_backbone(TransformerConfig(model=str(source))).tokenizer.is_fast  # converted from vocab.txt
    (source / "vocab.txt").unlink()  # no vocabulary left: transformers builds a tokenizer of the special tokens alone
    run = seqlab("train", "--config", "configs/apple_lstm.yaml", "--set", f"model.embedding.transformer.model={source}", "--dry-run")
    assert "its tokenizer has 5 tokens, its network's table" in one_line_error(run, "train")
