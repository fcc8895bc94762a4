"""Pretrained vectors: GloVe/word2vec text (and .gz) into the embedding rows, coverage, freezing, errors."""
from __future__ import annotations

import gzip
import json
import re
from collections import Counter

import pytest
import torch

from seqlab.config.settings import load_config, replace_in
from seqlab.data.vocab import Vocab
from seqlab.errors import ConfigError, DataError
from seqlab.nn.pretrained import load_pretrained
from seqlab.tagger.inference import Tagger
from seqlab.train.run import train


def write_vectors(path, rows: dict[str, list[float]], header: bool = False, gz: bool = False):
    lines = [f"{len(rows)} {len(next(iter(rows.values())))}"] if header else []
    lines += [" ".join([word, *(f"{v:.6f}" for v in vector)]) for word, vector in rows.items()]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if gz:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("header,gz", [(False, False), (True, False), (False, True)], ids=["glove", "word2vec", "gzip"])
def test_vectors_fill_the_rows_exact_form_first(tmp_path, header, gz):
    vocab = Vocab.build(["Apple", "apple", "Paris", "zzz"])
    rows = {"apple": [1.0, 2.0, 3.0], "Apple": [4.0, 5.0, 6.0], "paris": [7.0, 8.0, 9.0], "other": [0.0, 0.0, 1.0]}
    path = write_vectors(tmp_path / ("v.txt.gz" if gz else "v.txt"), rows, header, gz)
    weight = torch.zeros(len(vocab), 3)
    counts = Counter({"Apple": 2, "apple": 5, "Paris": 1, "zzz": 4})
    coverage = load_pretrained(path, weight, vocab, counts)
    assert weight[vocab.index["Apple"]].tolist() == [4.0, 5.0, 6.0]  # exact form, though "apple" comes first
    assert weight[vocab.index["apple"]].tolist() == [1.0, 2.0, 3.0]
    assert weight[vocab.index["Paris"]].tolist() == [7.0, 8.0, 9.0]  # lowercased fallback
    assert weight[vocab.index["zzz"]].tolist() == [0.0, 0.0, 0.0]  # not found: untouched
    assert weight[0].tolist() == weight[1].tolist() == [0.0, 0.0, 0.0]  # <pad>, <unk> untouched
    assert (coverage.types_found, coverage.types, coverage.exact) == (3, 4, 2)
    assert (coverage.tokens_found, coverage.tokens) == (8, 12)


@pytest.mark.parametrize(
    "text,message",
    [
        ("apple 1.0 2.0\n", "expected a word and 3 numbers (model.embedding.dim), found 2 numbers"),
        ("apple 1.0 x 2.0\n", "vector of 'apple' holds a value that is not a number"),
    ],
)
def test_bad_vector_lines_name_the_line(tmp_path, text, message):
    path = tmp_path / "v.txt"
    path.write_text("pear 1 2 3\n" + text, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(message)) as err:
        load_pretrained(path, torch.zeros(3, 3), Vocab.build(["apple"]), Counter())
    assert str(err.value).startswith(f"{path}:2: ")


def test_missing_file_and_freeze_without_vectors_are_errors(tmp_path):
    with pytest.raises(DataError, match="pretrained vector file not found"):
        load_pretrained(tmp_path / "none.txt", torch.zeros(3, 3), Vocab.build(["a"]), Counter())
    with pytest.raises(ConfigError, match="'model.embedding.freeze': freezing needs pretrained vectors"):
        load_config(None, ["model.embedding.freeze=true"])


@pytest.mark.parametrize("freeze", [True, False])
def test_training_starts_from_the_vectors_and_freezing_keeps_them(tiny_config, tmp_path, freeze):
    vectors = {w: [float(k + 1)] * 16 for k, w in enumerate(["eat", "peel", "apple", "Motors", "shares"])}
    path = write_vectors(tmp_path / "glove.txt", vectors)
    config = replace_in(replace_in(tiny_config, "model.embedding.pretrained", str(path)), "model.embedding.freeze", freeze)
    result = train(config, tmp_path / f"m{freeze}", progress=False)
    tagger = Tagger.load(result.output_dir)
    weight = tagger.model.embedding.words.weight
    vocab = tagger.bundle.vocabs.words
    same = [torch.equal(weight[vocab.index[w]], torch.tensor(v)) for w, v in vectors.items()]
    assert all(same) if freeze else not any(same)
    summary = json.loads((result.output_dir / "metrics.json").read_text())
    assert summary["pretrained"]["types_found"] == 6 and summary["pretrained"]["exact"] == 5  # "Apple" via "apple"
