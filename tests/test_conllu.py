"""The CoNLL-U reader on the shipped tests/data/tiny.conllu, its errors, and UPOS tagging end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqlab.cli.main import main
from seqlab.data.readers import conllu_sentences, read_lines
from seqlab.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.conllu"


def test_reads_syntactic_words_skipping_ranges_empty_nodes_and_comments():
    sentences = list(conllu_sentences(read_lines(TINY), TINY))
    assert [s.tokens for s in sentences] == [
        ("Vivo", "cerca", "de", "el", "río", "."),  # "del" (3-4) is read as its two words
        ("Sue", "likes", "coffee", "and", "Bill", "tea", "."),  # the empty node 5.1 is not a word
        ("Birds", "sing", "."),
    ]
    assert sentences[0].tags == ("VERB", "ADV", "ADP", "DET", "NOUN", "PUNCT")
    assert [s.line for s in sentences] == [4, 14, 24]
    xpos = list(conllu_sentences(read_lines(TINY), TINY, "xpos"))
    assert xpos[1].tags == ("NNP", "VBZ", "NN", "CC", "NNP", "NN", ".")


@pytest.mark.parametrize(
    "line,message",
    [
        ("1\tA\ta\tNOUN\tNN\t_\t0\troot\t_", "expected 10 tab-separated CoNLL-U fields, found 9"),
        ("2\tA\ta\tNOUN\tNN\t_\t0\troot\t_\t_", "word ID 2 out of sequence: expected 1"),
        ("x\tA\ta\tNOUN\tNN\t_\t0\troot\t_\t_", "ID 'x' is not a word index"),
        ("1\tA\ta\t_\tNN\t_\t0\troot\t_\t_", "UPOS is '_'"),
    ],
)
def test_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.conllu"
    path.write_text("# comment\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        list(conllu_sentences(read_lines(path), path))
    assert str(err.value).startswith(f"{path}:2: ")


def test_unannotated_tags_are_fine_for_prediction_input(tmp_path):
    path = tmp_path / "raw.conllu"
    path.write_text("1\tHello\t_\t_\t_\t_\t_\t_\t_\t_\n2\tworld\t_\t_\t_\t_\t_\t_\t_\t_\n", encoding="utf-8")
    (sentence,) = conllu_sentences(read_lines(path), path, require_tags=False)
    assert sentence.tokens == ("Hello", "world") and sentence.tags is None


def test_upos_tagging_trains_evaluates_and_predicts_end_to_end(tmp_path, capsys):
    out = tmp_path / "pos"
    args = ["-q", "train", "--config", str(ROOT / "configs" / "ud_pos.yaml"), "--output", str(out)]
    for override in [f"data.train={TINY}", f"data.dev={TINY}", f"data.test={TINY}", "model.embedding.dim=16", "model.encoder.hidden=16", "train.epochs=25", "train.lr=0.02", "model.embedding.word_dropout=0", "train.patience=null"]:
        args += ["--set", override]
    assert main(args) == 0
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    best = max(range(len(history)), key=lambda k: history[k]["dev_accuracy"])
    assert json.loads((out / "metrics.json").read_text())["best_epoch"] == best + 1  # selected by accuracy
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out), "--data", str(TINY), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] > 0.9  # it can learn 16 training words by heart
    assert main(["predict", "--model", str(out), "--input", str(TINY), "--input-format", "conllu"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.split("\n") if line]
    assert [r[0] for r in rows[:6]] == ["Vivo", "cerca", "de", "el", "río", "."]
    assert sum(r[1] == t for r, t in zip(rows[:6], ["VERB", "ADV", "ADP", "DET", "NOUN", "PUNCT"])) >= 5
