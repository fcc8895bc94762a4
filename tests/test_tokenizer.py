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


@settings(max_examples=300, deadline=None)
@given(st.text(), st.booleans())
def test_offsets_are_the_original_slices_increasing_and_disjoint(text, split):
    from seqlab.tokenizer import sentences_of, split_sentences, token_spans

    spans = token_spans(text)
    assert [t for t, _, _ in spans] == tokenize(text)
    assert all(text[a:b] == t for t, a, b in spans)
    assert all(b1 <= a2 for (_, _, b1), (_, a2, _) in zip(spans, spans[1:]))
    sentences = sentences_of(text, split)
    assert [t for tokens, _ in sentences for t in tokens] == tokenize(text)  # splitting loses and duplicates nothing
    for tokens, source in sentences:
        assert source.text is text and all(source.region[0] <= a < b <= source.region[1] for a, b in source.offsets)
    regions = split_sentences(text)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(regions, regions[1:]))


def test_sentence_splitting_keeps_abbreviations_initials_and_quotes():
    from seqlab.tokenizer import split_sentences

    def cut(text):
        return [text[a:b] for a, b in split_sentences(text)]

    assert cut("I like eating apple! The Apple is a great company.") == ["I like eating apple!", "The Apple is a great company."]
    assert cut("Mr. Smith met Dr. J. Watson. They talked.") == ["Mr. Smith met Dr. J. Watson.", "They talked."]
    assert cut('He said "Stop!" Then he left.') == ['He said "Stop!"', "Then he left."]
    assert cut("first part\n\nsecond part") == ["first part", "second part"]
    assert cut("it ends in 2025. but lower case goes on") == ["it ends in 2025. but lower case goes on"]  # a documented limit
    assert cut(" \n ") == []
