"""Vocabularies: ordering, specials, unknown items, and the JSON form saved in a model directory."""
from __future__ import annotations

import pytest

from seqlab.data.vocab import PAD, UNK, Vocab
from seqlab.errors import ModelError


def test_build_orders_by_frequency_then_first_appearance_and_applies_min_count():
    vocab = Vocab.build(["b", "a", "c", "a", "b", "d", "a"], min_count=2)
    assert vocab.items == [PAD, UNK, "a", "b"]  # a ×3, b ×2 (seen before c and d, which are dropped)
    tied = Vocab.build(["y", "x", "x", "y", "z"])
    assert tied.items == [PAD, UNK, "y", "x", "z"]  # y and x tie at 2: y came first


def test_unknown_items_map_to_unk_with_specials_and_raise_without():
    words = Vocab.build(["apple"])
    assert words.id("apple") == 2 and words.id("pear") == words.unk_id == 1 and words.ids(["pear", "apple"]) == [1, 2]
    assert "apple" in words and "pear" not in words and len(words) == 3
    tags = Vocab.build(["O", "B-X", "O"], specials=False)
    assert tags.items == ["O", "B-X"] and tags.id("B-X") == 1
    with pytest.raises(KeyError):
        tags.id("I-X")


def test_json_round_trip_keeps_ids():
    for vocab in (Vocab.build(["b", "a", "a"]), Vocab.build(["O", "B-X"], specials=False)):
        again = Vocab.from_json(vocab.to_json(), "v")
        assert again.items == vocab.items and again.specials == vocab.specials and again.index == vocab.index


def test_a_specials_named_item_never_shifts_the_ids():
    vocab = Vocab([UNK, "a", PAD, "b"], specials=True)
    assert vocab.items == [PAD, UNK, "a", "b"]


@pytest.mark.parametrize("data,message", [
    (None, "expected {'specials': bool, 'items': \\[str, ...\\]}"),
    ({"specials": "yes", "items": []}, "expected {'specials'"),
    ({"specials": True, "items": ["a", 1]}, "expected {'specials'"),
    ({"specials": False, "items": ["a", "a"]}, "vocabulary items must be distinct"),
])
def test_malformed_json_is_a_model_error_naming_the_vocabulary(data, message):
    with pytest.raises(ModelError, match=f"vocabulary 'tags': {message}"):
        Vocab.from_json(data, "tags")
