"""Encoding sentences to ids (word keys, vocabularies, unknown tags) and batching (padding, bucketing)."""
from __future__ import annotations

import random

import pytest

from seqlab.config.settings import DataConfig
from seqlab.data.batches import (
    MAX_WORD_CHARS,
    bucketed_order,
    build_vocabularies,
    casing_id,
    collate,
    encode,
    encode_all,
    position_budget,
    sorted_order,
    word_key,
)
from seqlab.data.readers import Sentence
from seqlab.errors import DataError


def test_word_key():
    assert word_key("Apple1995", lowercase=True, normalize_digits=True) == "apple0000"
    assert word_key("Apple", lowercase=False, normalize_digits=False) == "Apple"


def test_vocabularies_min_count_and_unknown_tag(tmp_path):
    sentences = [Sentence(("a", "b", "a"), ("O", "X", "O")), Sentence(("a", "c"), ("O", "O"))]
    vocabs = build_vocabularies(sentences, DataConfig(min_count=2))
    assert vocabs.words.items == ["<pad>", "<unk>", "a"]
    assert vocabs.tags.items == ["O", "X"]
    encoded = encode(Sentence(("a", "zzz"), ("O", "X")), vocabs, DataConfig())
    assert encoded.words.tolist() == [2, 1]
    with pytest.raises(DataError, match="tag 'Y' was never seen"):
        encode(Sentence(("a",), ("Y",)), vocabs, DataConfig())


def test_encode_all_matches_ids_looked_up_one_by_one():
    import torch

    data = DataConfig(lowercase=True, normalize_digits=True)
    train = [Sentence(("The", "Apple", "rose", "3%"), ("O", "B-ORG", "O", "O")), Sentence(("apple", "pie"), ("O", "O"))]
    vocabs = build_vocabularies(train, data)
    long_word = "x" * (MAX_WORD_CHARS + 9)
    sentences = [*train, Sentence(("Apple", "ünknöwn", long_word, "Apple", "1999"), None), Sentence((), None), Sentence(("a",), None)]
    encoded = encode_all(sentences, vocabs, data)
    assert len(encoded) == len(sentences)
    for sentence, got in zip(sentences, encoded):
        tokens = sentence.tokens
        chars = [[vocabs.chars.id(ch) for ch in t[:MAX_WORD_CHARS]] for t in tokens]
        width = max((len(c) for c in chars), default=1)
        assert got.words.dtype == got.chars.dtype == got.casing.dtype == torch.long
        assert got.words.tolist() == [vocabs.words.id(word_key(t, True, True)) for t in tokens]
        assert got.chars.shape == (len(tokens), width)
        assert got.chars.tolist() == [c + [0] * (width - len(c)) for c in chars]
        assert got.casing.tolist() == [casing_id(t) for t in tokens]
        assert got.tokens == tokens
        assert (got.tags is None) == (sentence.tags is None)
        if sentence.tags is not None:
            assert got.tags.tolist() == [vocabs.tags.id(t) for t in sentence.tags]
        single = encode(sentence, vocabs, data)
        assert torch.equal(single.words, got.words) and torch.equal(single.chars, got.chars) and torch.equal(single.casing, got.casing)


def test_collate_pads_and_masks():
    sentences = [Sentence(("a", "bb"), ("O", "X")), Sentence(("ccc",), ("O",))]
    vocabs = build_vocabularies(sentences, DataConfig())
    batch = collate([encode(s, vocabs, DataConfig()) for s in sentences], [0, 1])
    assert batch.words.shape == (2, 2) and batch.chars.shape == (2, 2, 3)
    assert batch.mask.tolist() == [[True, True], [True, False]]
    assert batch.lengths.tolist() == [2, 1]
    assert batch.words[1, 1] == 0 and batch.chars[0, 0, 1] == 0


@pytest.mark.parametrize("seed", range(6))
def test_sorted_order_keeps_long_sentences_in_small_batches_and_cuts_the_fewest(seed):
    rng = random.Random(seed)
    lengths = [rng.choice([1, 2, 3, 5, 8]) for _ in range(rng.randint(1, 30))] + [rng.randint(10, 60) for _ in range(rng.randint(0, 8))]
    rng.shuffle(lengths)
    size = rng.choice([2, 3, 4, 8])
    order = sorted_order(lengths, batch_size=size)
    flat = [k for batch in order for k in batch]
    assert sorted(flat) == list(range(len(lengths))) and [lengths[k] for k in flat] == sorted(lengths)
    budget = position_budget(lengths, size)
    for batch in order:
        width = max(lengths[k] for k in batch)
        assert len(batch) <= size and (len(batch) == 1 or len(batch) * width <= budget)
    ranked = sorted(lengths)  # the fewest batches within both limits, by brute force over every cut
    fewest = [0] + [len(ranked)] * len(ranked)
    for j in range(1, len(ranked) + 1):
        fewest[j] = min(fewest[i] + 1 for i in range(j) if j - i == 1 or (j - i <= size and (j - i) * ranked[j - 1] <= budget))
    assert len(order) == fewest[-1]


def test_sorted_order_gives_a_long_tail_its_own_batches():
    lengths = [10] * 60 + [100, 90, 80]  # mean 13.8: at 32 sentences, a batch may hold 883 positions
    order = sorted_order(lengths, batch_size=32)
    assert sorted(lengths[k] for k in order[-1]) == [10] * 5 + [80, 90, 100]  # as many as fit at width 100
    assert [len(batch) for batch in order[:-1]] == [27, 28]  # by count alone: 32 + 31, the last at width 100


def test_bucketed_order_covers_everything_once_and_limits_padding():
    rng = random.Random(0)
    lengths = [rng.randint(1, 60) for _ in range(1000)]
    order = bucketed_order(lengths, batch_size=10, bucket_batches=20, rng=random.Random(1))
    flat = sorted(k for batch in order for k in batch)
    assert flat == list(range(1000))
    padded = sum(len(b) * max(lengths[k] for k in b) for b in order)
    random_padded = sum(10 * max(lengths[k] for k in range(i, i + 10)) for i in range(0, 1000, 10))
    assert padded < 0.7 * random_padded
    assert bucketed_order(lengths, 10, 20, random.Random(1)) == order
    assert bucketed_order(lengths, 10, 20, random.Random(2)) != order


def test_sorted_order_is_by_length():
    order = sorted_order([3, 1, 2, 5], batch_size=2)
    assert order == [[1, 2], [0, 3]]


@pytest.mark.parametrize("count", [0, 1, 31, 32, 33, 64, 65, 100])
def test_sorted_order_cuts_the_fewest_batches_of_near_equal_size(count):
    lengths = [(7 * k) % 13 + 1 for k in range(count)]
    order = sorted_order(lengths, batch_size=32)
    sizes = [len(batch) for batch in order]
    assert len(sizes) == -(-count // 32) and (not sizes or max(sizes) - min(sizes) <= 1) and max(sizes, default=0) <= 32
    flat = [k for batch in order for k in batch]
    assert sorted(flat) == list(range(count)) and [lengths[k] for k in flat] == sorted(lengths)
