"""Confidences, n-best lists and scheme conversion of a trained tagger, against brute-force enumeration."""
from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.cli.main import main
from seqlab.config.settings import replace_in
from seqlab.data.batches import collate, encode
from seqlab.data.readers import Sentence
from seqlab.data.schemes import sequence_allowed, spans
from seqlab.tagger.inference import Tagger
from seqlab.train.run import train
from tests.conftest import tiny_sentences, write_conll

SENTENCES = [["I", "eat", "the", "apple"], ["General", "Motors", "and", "Apple"], ["the", "Apple", "shares", "rose", "."]]


def trained(config, scheme: str, kind: str, constrained: bool = True) -> Tagger:
    for key, value in (("model.decoder.scheme", scheme), ("model.decoder.kind", kind), ("model.decoder.constrained", constrained)):
        config = replace_in(config, key, value)
    return Tagger.load(train(config, progress=False).output_dir)


def enumerate_paths(tagger: Tagger, tokens: list[str]) -> list[tuple[list[str], float]]:
    """Every tag sequence of the model's scheme with its probability under the model (forbidden ones: 0)."""
    encoded = encode(Sentence(tuple(tokens), None), tagger.bundle.vocabs, tagger.bundle.config.data)
    batch = collate([encoded], [0])
    with torch.no_grad():
        emissions = tagger.model.emissions(batch)[0].double()  # (L, T)
    head = tagger.model.head
    names = tagger.bundle.vocabs.tags.items
    if not hasattr(head, "transitions"):  # softmax: the per-token model restricted to valid sequences
        emissions = emissions.log_softmax(1)
    start, trans, end = (t.detach().double() for t in head.scores())
    scores = {}
    for path in itertools.product(range(len(names)), repeat=len(tokens)):
        s = start[path[0]] + end[path[-1]] + sum(trans[a, b] for a, b in zip(path, path[1:]))
        scores[path] = float(s + sum(emissions[t, y] for t, y in enumerate(path)))
    log_z = torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), 0)
    return [([names[i] for i in p], math.exp(v - float(log_z))) for p, v in scores.items()]


@pytest.mark.parametrize("scheme,kind", [("bioes", "crf"), ("bio", "crf"), ("bio", "softmax")])
def test_span_confidences_token_marginals_and_nbest_match_enumeration(tiny_config, scheme, kind):
    tagger = trained(tiny_config, scheme, kind)
    for tokens, analysis in zip(SENTENCES, tagger.analyse(SENTENCES, nbest=3)):
        paths = enumerate_paths(tagger, tokens)
        for span in analysis.spans:
            mass = sum(p for tags, p in paths if any((s.start, s.end, s.type) == (span.start, span.end, span.type) for s in spans(tags)))
            assert span.confidence == pytest.approx(mass, abs=1e-5)
        ranked = sorted(paths, key=lambda item: -item[1])
        assert [p for _, p in analysis.nbest] == pytest.approx([p for _, p in ranked[:3]], abs=1e-5)
        assert analysis.nbest[0][0] == analysis.tags
        assert len(analysis.token_probs) == len(tokens)
        assert all(0.0 <= p <= 1.0 for p in analysis.token_probs)


@pytest.mark.parametrize("scheme,kind", [("bioes", "crf"), ("bio", "softmax")])
def test_uncertainty_is_the_best_paths_log_probability_and_the_marginals_entropy_by_enumeration(tiny_config, scheme, kind):
    tagger = trained(tiny_config, scheme, kind)
    found = tagger.infer(tagger.encode_tokens(SENTENCES), uncertainty=True)
    for tokens, inference in zip(SENTENCES, found):
        paths = enumerate_paths(tagger, tokens)
        best = [tagger.bundle.vocabs.tags.items[i] for i in inference.ids]
        assert inference.log_prob == pytest.approx(math.log(dict((tuple(t), p) for t, p in paths)[tuple(best)]), abs=1e-4)
        assert inference.log_prob == pytest.approx(math.log(max(p for _, p in paths)), abs=1e-4)  # it is the best one
        names = tagger.bundle.vocabs.tags.items
        for t in range(len(tokens)):
            marginal = [sum(p for tags, p in paths if tags[t] == name) for name in names]
            assert inference.entropies[t] == pytest.approx(-sum(p * math.log(p) for p in marginal if p > 0), abs=1e-4)
    assert all(f.log_prob is None and f.entropies == () for f in tagger.infer(tagger.encode_tokens(SENTENCES)))


def test_constrained_decoding_is_valid_and_unconstrained_may_not_be(tiny_config):
    tagger = trained(tiny_config, "bioes", "softmax")
    scheme = tagger.model_scheme
    names = tagger.bundle.vocabs.tags.items
    head = tagger.model.head
    gen = torch.Generator().manual_seed(0)
    emissions = torch.randn(64, 7, len(names), generator=gen) * 4  # (B, L, T): wild scores
    mask = torch.ones(64, 7, dtype=torch.bool)
    for row in head.decode(emissions, mask).tolist():
        assert sequence_allowed([names[i] for i in row], scheme)
    head.constrained = False
    assert not all(sequence_allowed([names[i] for i in row], scheme) for row in head.decode(emissions, mask).tolist())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 9))
def test_constrained_crf_never_outputs_an_invalid_sequence(seed, length):
    from seqlab.data.schemes import transition_masks
    from seqlab.nn.crf import CRF

    names = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]
    crf = CRF(len(names), *transition_masks(names, "bioes"))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        crf.transitions.copy_(torch.randn(crf.transitions.shape, generator=gen) * 5)
    emissions = torch.randn(4, length, len(names), generator=gen) * 5
    lengths = torch.randint(1, length + 1, (4,), generator=gen)
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    for row, n in zip(crf.decode(emissions, mask).tolist(), lengths.tolist()):
        assert sequence_allowed([names[i] for i in row[:n]], "bioes")
    paths, _ = crf.decode_nbest(emissions, mask, 3)
    for b, n in enumerate(lengths.tolist()):
        for r in range(3):
            assert sequence_allowed([names[i] for i in paths[b, r, :n].tolist()], "bioes")


def test_iob1_files_get_iob1_predictions(tmp_path, tiny_config):
    def to_iob1(tags):
        return ["I-" + t[2:] if t.startswith("B-") else t for t in tags]

    data = {}
    for name, count, seed in (("train", 60, 1), ("dev", 20, 2)):
        data[name] = write_conll(tmp_path / f"{name}.iob1", [(w, to_iob1(t)) for w, t in tiny_sentences(count, seed)])
    config = replace_in(replace_in(replace_in(tiny_config, "data.train", str(data["train"])), "data.dev", str(data["dev"])), "data.test", None)
    result = train(config, progress=False)
    tagger = Tagger.load(result.output_dir)
    assert tagger.bundle.config.data.tag_scheme == "iob1"
    assert tagger.bundle.vocabs.tags.items.count("O") == 1 and any(t.startswith("S-") for t in tagger.bundle.vocabs.tags.items)
    predicted = tagger.predict_tokens([["General", "Motors", "and", "Apple", "shares", "rose"]])[0]
    assert all(not t.startswith(("B-", "E-", "S-")) for t in predicted), predicted


def test_cli_probs_and_nbest(tiny_config, capsys):
    directory = train(tiny_config, progress=False).output_dir
    assert main(["predict", "--model", str(directory), "--text", "I eat the apple", "--probs", "--nbest", "2", "--format", "jsonl"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert len(record["probs"]) == 4 and len(record["nbest"]) == 2
    assert record["nbest"][0]["tags"] == record["tags"]
    assert record["nbest"][0]["prob"] >= record["nbest"][1]["prob"]
    for span in record["spans"]:
        assert 0.0 <= span["confidence"] <= 1.0 and span["text"]
    assert main(["predict", "--model", str(directory), "--text", "I eat the apple", "--probs", "--nbest", "2"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert all(len(r) == 5 for r in rows)
    assert main(["predict", "--model", str(directory), "--text", "I eat the apple", "--nbest", "2", "--format", "text"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[1].startswith("#1 p=")


def test_evaluate_reports_calibration(tiny_config, tiny_data, capsys):
    directory = train(tiny_config, progress=False).output_dir
    assert main(["evaluate", "--model", str(directory), "--data", str(tiny_data["test"]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.0 <= report["calibration_error"] <= 1.0 and 0.0 < report["mean_confidence"] <= 1.0
