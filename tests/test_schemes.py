from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.data.readers import Sentence
from seqlab.data.schemes import (
    check_tags,
    convert,
    detect_scheme,
    is_valid,
    sequence_allowed,
    spans,
    transition_masks,
)
from seqlab.errors import DataError
from seqlab.data.schemes import split_tag

RAW = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC"]


def test_convert_between_schemes():
    iob1 = ["I-ORG", "I-ORG", "B-ORG", "O", "I-PER"]
    assert convert(iob1, "bio") == ["B-ORG", "I-ORG", "B-ORG", "O", "B-PER"]
    assert convert(iob1, "bioes") == ["B-ORG", "E-ORG", "S-ORG", "O", "S-PER"]
    assert convert(convert(iob1, "bioes"), "iob1") == iob1


def test_invalid_sequences_are_repaired_like_conlleval():
    assert convert(["O", "I-PER", "I-PER"], "bio") == ["O", "B-PER", "I-PER"]
    assert convert(["B-PER", "I-LOC"], "bio") == ["B-PER", "B-LOC"]
    assert not is_valid(["O", "I-PER"], "bio") and is_valid(["O", "B-PER"], "bio")


def test_unprefixed_tags_pass_through_unconstrained():
    assert convert(["NOUN", "VERB"], "bioes") == ["NOUN", "VERB"]
    allowed, start, end = transition_masks(["NOUN", "VERB"], "bioes")
    assert allowed.all() and start.all() and end.all()


def test_detect_scheme():
    assert detect_scheme([["O", "I-PER", "I-PER"]]) == "iob1"
    assert detect_scheme([["B-PER", "I-PER"], ["O"]]) == "bio"
    assert detect_scheme([["S-PER"]]) == "bioes"
    assert detect_scheme([["NOUN", "VERB"], ["O", "PUNCT"]]) == "none"  # plain labels
    assert detect_scheme([["B-FRUIT", "O"], ["FRUIT"]]) == "bio"  # prefixed somewhere: a span scheme (the bare one is an error)


def test_a_bare_tag_under_a_span_scheme_names_its_line():
    sentences = [Sentence(("I", "ate"), ("O", "O"), 1), Sentence(("an", "apple"), ("O", "FRUIT"), 4)]
    with pytest.raises(DataError, match=r"train.conll:4: tag 'FRUIT' \(token 2 of the sentence starting here\) is neither O nor PREFIX-TYPE as BIO"):
        check_tags(sentences, "bio", "train.conll")
    check_tags(sentences, "none", "train.conll")  # plain labels: accepted


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(RAW), min_size=1, max_size=10), st.sampled_from(["iob1", "bio", "bioes"]))
def test_conversion_keeps_spans_and_yields_allowed_sequences(tags, scheme):
    converted = convert(tags, scheme)
    assert spans(converted) == spans(tags)
    assert sequence_allowed(converted, scheme)
    assert convert(converted, scheme) == converted


@pytest.mark.parametrize("scheme", ["iob1", "bio", "bioes"])
def test_allowed_sequences_are_exactly_the_valid_ones(scheme):
    tags = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B"] if scheme == "bioes" else ["O", "B-A", "I-A", "B-B", "I-B"]
    allowed, start, end = transition_masks(tags, scheme)
    for length in (1, 2, 3):
        for path in itertools.product(range(len(tags)), repeat=length):
            names = [tags[i] for i in path]
            by_mask = bool(start[path[0]]) and bool(end[path[-1]]) and all(bool(allowed[a, b]) for a, b in zip(path, path[1:]))
            assert by_mask == sequence_allowed(names, scheme)
            assert by_mask == is_valid(names, scheme), names
    assert isinstance(allowed, torch.Tensor)


def _scalar_pair(scheme, previous, tag):
    """The constraint rules written out per pair of tags: the oracle for the vectorised masks."""
    (p_prefix, p_kind), (prefix, kind) = split_tag(previous), split_tag(tag)
    if scheme == "bio":
        return prefix != "I" or (p_prefix in ("B", "I") and p_kind == kind)
    if scheme == "iob1":
        return prefix != "B" or (p_prefix in ("B", "I") and p_kind == kind)
    if p_prefix in ("B", "I"):
        return prefix in ("I", "E") and kind == p_kind
    return prefix not in ("I", "E")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["O", "NOUN", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B", "I-C"]), min_size=1, max_size=12, unique=True),
       st.sampled_from(["bio", "iob1", "bioes"]))
def test_the_masks_are_the_pairwise_rules(tags, scheme):
    from seqlab.data.schemes import transition_masks

    allowed, start, end = transition_masks(tags, scheme)
    assert allowed.tolist() == [[_scalar_pair(scheme, a, b) for b in tags] for a in tags]
    prefixes = [split_tag(t)[0] for t in tags]
    assert start.tolist() == [p != {"bio": "I", "iob1": "B"}.get(scheme, "I") and not (scheme == "bioes" and p == "E") for p in prefixes]
    assert end.tolist() == [scheme != "bioes" or p not in ("B", "I") for p in prefixes]


def test_twenty_thousand_distinct_tags_are_one_error_in_seconds(tmp_path):
    import time

    from seqlab.config.settings import load_config
    from seqlab.errors import DataError
    from seqlab.train.prepare import prepare_run

    path = tmp_path / "many.conll"
    path.write_text("".join(f"w{k}\tB-T{k}\n\n" for k in range(20_000)), encoding="utf-8")
    began = time.perf_counter()
    with pytest.raises(DataError, match=r"many.conll: 20,000 distinct tags; a seqlab model holds at most 10,000"):
        prepare_run(load_config(None, [f"data.train={path}"]))
    assert time.perf_counter() - began < 60
