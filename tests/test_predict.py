"""Prediction's formats and streaming: each output format written out exactly, every input format read
with the model's data settings, and chunking that changes nothing."""
from __future__ import annotations

import json

import pytest

from seqlab.config.settings import DataConfig
from seqlab.data.readers import Sentence
from seqlab.data.tokenizer import Source
from seqlab.tagger.inference import Analysis, EntitySpan, Tagger
from seqlab.tagger.predict import (
    format_sentence,
    read_sentences,
    tag_stream,
    tune_batch_size,
)

ANALYSIS = Analysis(
    ("The", "Apple", "pie", "!"),
    ("O", "B-ORG", "O", "O"),
    (0.9, 0.75, 0.5, 1.0),
    (EntitySpan(1, 2, "ORG", "Apple", 0.625),),
    ((("O", "B-ORG", "O", "O"), 0.5), (("O", "B-FRUIT", "O", "O"), 0.25)),
)


def test_conll_output_has_probabilities_confidences_and_alternatives_as_columns():
    assert format_sentence(ANALYSIS, "conll") == (
        "The\tO\t0.9000\t-\tO\n"
        "Apple\tB-ORG\t0.7500\t0.6250\tB-FRUIT\n"
        "pie\tO\t0.5000\t-\tO\n"
        "!\tO\t1.0000\t-\tO\n\n"
    )
    plain = Analysis(ANALYSIS.tokens, ANALYSIS.tags, (), (EntitySpan(1, 2, "ORG", "Apple"),), ())
    assert format_sentence(plain, "conll") == "The\tO\nApple\tB-ORG\npie\tO\n!\tO\n\n"


def test_jsonl_output_names_every_field():
    record = json.loads(format_sentence(ANALYSIS, "jsonl"))
    assert record == {
        "tokens": ["The", "Apple", "pie", "!"], "tags": ["O", "B-ORG", "O", "O"], "probs": [0.9, 0.75, 0.5, 1.0],
        "spans": [{"start": 1, "end": 2, "type": "ORG", "text": "Apple", "confidence": 0.625}],
        "nbest": [{"tags": ["O", "B-ORG", "O", "O"], "prob": 0.5}, {"tags": ["O", "B-FRUIT", "O", "O"], "prob": 0.25}],
    }


def test_text_output_brackets_entities_with_confidence_and_lists_alternatives():
    assert format_sentence(ANALYSIS, "text") == "The [ORG Apple 0.625] pie !\n#1 p=0.5000: The [ORG Apple] pie !\n#2 p=0.2500: The [FRUIT Apple] pie !\n"


def test_raw_text_is_marked_inside_the_original_and_its_offsets_are_written():
    text = "  The Apple  pie!"
    source = Source(text, ((2, 5), (6, 11), (13, 16), (16, 17)), (0, len(text)))
    analysis = Analysis(ANALYSIS.tokens, ANALYSIS.tags, (), (EntitySpan(1, 2, "ORG", "Apple", None, 6, 11),), ANALYSIS.nbest, source)
    assert format_sentence(analysis, "text").splitlines() == ["  The [ORG Apple]  pie!", "#1 p=0.5000:   The [ORG Apple]  pie!", "#2 p=0.2500:   The [FRUIT Apple]  pie!"]
    line = json.loads(format_sentence(analysis, "jsonl"))
    assert line["offsets"] == [[2, 5], [6, 11], [13, 16], [16, 17]]
    assert line["spans"] == [{"start": 1, "end": 2, "type": "ORG", "text": "Apple", "start_char": 6, "end_char": 11}]
    split = Analysis(ANALYSIS.tokens, ANALYSIS.tags, (), (), (), Source(text, source.offsets, (6, 11)))
    assert format_sentence(split, "text") == "[ORG Apple]\n"  # a sentence of a split line: its own region only


@pytest.mark.parametrize("fmt,text", [
    ("text", "I like apple!\n"),
    ("conll", "x\tI\tO\nx\tlike\tO\nx\tapple!\tO\n"),
    ("jsonl", json.dumps({"tokens": ["I", "like", "apple!"]}) + "\n"),
    ("conllu", "1\tI\t_\tPRON\t_\t_\t_\t_\t_\t_\n2\tlike\t_\tVERB\t_\t_\t_\t_\t_\t_\n3\tapple!\t_\tNOUN\t_\t_\t_\t_\t_\t_\n"),
])
def test_every_input_format_is_read_with_the_models_settings(tmp_path, fmt, text):
    path = tmp_path / "input"
    path.write_text(text, encoding="utf-8")
    expected = ("I", "like", "apple", "!") if fmt == "text" else ("I", "like", "apple!")
    assert [s.tokens for s in read_sentences(str(path), fmt, DataConfig(token_column=1, tag_column=2))] == [expected]


def test_chunking_and_batch_sizes_change_no_result(tiny_config):
    from seqlab.train.run import train
    from tests.conftest import tiny_sentences

    tagger = Tagger.load(train(tiny_config, progress=False).output_dir)
    sentences = [tuple(tokens) for tokens, _ in tiny_sentences(40, 9)] + [()]
    whole = list(tag_stream(tagger, sentences, with_probs=True, nbest=2, chunk=1000, batch_size=64))
    pieces = list(tag_stream(tagger, sentences, with_probs=True, nbest=2, chunk=7, batch_size=3))
    assert [a.tokens for a in whole] == sentences and whole[-1].tags == ()
    for a, b in zip(whole[:-1], pieces):
        assert a.tags == b.tags and a.nbest[0][0] == b.nbest[0][0]
        assert a.token_probs == pytest.approx(b.token_probs, abs=1e-5)
    items = [Sentence(tokens, None) for tokens in sentences]
    results, best, rates = tune_batch_size(lambda block, size: [len(s.tokens) for s in block], items, candidates=(2, 4))
    assert results == [len(s) for s in sentences] and best in (2, 4) and set(rates) == {2, 4}
