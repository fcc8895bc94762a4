from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.tokenizer import tokenize


def test_punctuation_is_split_off():
    assert tokenize("I like eating apple!") == ["I", "like", "eating", "apple", "!"]
    assert tokenize("The Apple is a great company!") == ["The", "Apple", "is", "a", "great", "company", "!"]


def test_clitics_numbers_and_hyphens():
    assert tokenize("Apple's CEO doesn't care") == ["Apple", "'s", "CEO", "does", "n't", "care"]
    assert tokenize("It costs 1,000.50 dollars, state-of-the-art.") == ["It", "costs", "1,000.50", "dollars", ",", "state-of-the-art", "."]
    assert tokenize("Hello,world") == ["Hello", ",", "world"]


def test_unicode_marks_stay_with_their_letter_and_emoji_are_tokens():
    assert tokenize("cafe\u0301 😀ok") == ["cafe\u0301", "😀", "ok"]
    assert tokenize("a\u200bb") == ["a", "b"]


def test_empty_and_whitespace():
    assert tokenize("") == []
    assert tokenize(" \t\n ") == []


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_tokens_are_nonempty_and_cover_all_non_space_text(text):
    tokens = tokenize(text)
    assert all(tokens)
    kept = "".join(tokens)
    dropped = "".join(ch for ch in text if not ch.isspace() and ch not in "\u200b\u200c\u200d\u2060\ufeff")
    assert sorted(kept) == sorted(dropped)
