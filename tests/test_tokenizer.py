from __future__ import annotations

import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.data.tokenizer import token_spans, tokenize

# The rules of seqlab.data.tokenizer as one backtracking regular expression (the tokenizer's earlier form, whose
# time grew exponentially with runs of combining marks): the oracle for short texts.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u0483-\u0489\u0591-\u05bd\u064b-\u065f\u0900-\u0903\u093a-\u094f"
_RUN = rf"(?:[^\W][{_MARKS}]*|[{_MARKS}])+"
_JOIN = r"(?:[-'’/]|(?<=\d)[.,](?=\d))"
_CLITIC = r"(?:'[sS]|'[rR][eE]|'[vV][eE]|'[lL][lL]|'[mM]|'[dD]|[nN]'[tT])(?![^\W])"
REFERENCE = re.compile(
    rf"{_RUN}(?=[nN]'[tT](?![^\W]))"
    rf"|{_CLITIC}"
    rf"|{_RUN}(?:{_JOIN}{_RUN})*?(?={_CLITIC})"
    rf"|{_RUN}(?:{_JOIN}{_RUN})*"
    r"|[^\s\u200b\u200c\u200d\u2060\ufeff]"
)
TRICKY = "anNtTsSdDmrRevVlL19_'’-/.,!? \t\u0301\u0489\u200b\u200d\ufe0f😀é"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=TRICKY, max_size=14))
def test_the_scanner_cuts_tricky_texts_as_the_reference_expression(text):
    assert token_spans(text) == [(m.group(), m.start(), m.end()) for m in REFERENCE.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_the_scanner_cuts_any_text_as_the_reference_expression(text):
    assert token_spans(text) == [(m.group(), m.start(), m.end()) for m in REFERENCE.finditer(text)]


ADVERSARIAL = {
    "combining marks": "x" + "\u0301" * 3,
    "enclosing marks": "a\u20dd\u0489",
    "joiners": "a\u200d\u0301",
    "variation selectors": "\u2764\ufe0f\u0301",
    "mixed scripts": "\u0915\u094d\u0937a\u0301\u05d0\u05b0",
    "clitics": "a's'",
    "n't words": "xn't-",
    "decimals": "1.2,",
    "hyphens": "a-\u0301-",
}


def test_adversarial_10kb_lines_tokenise_at_once_in_a_subprocess_with_a_timeout():
    """Each family repeated to 10 kB: a backtracking tokenizer takes hours on these; the scanner,
    milliseconds (the subprocess's timeout turns a hang into a failure)."""
    script = (
        "import sys, json\nfrom seqlab.data.tokenizer import tokenize, sentences_of\n"
        "for unit in json.loads(sys.argv[1]):\n"
        "    line = unit * (10_000 // len(unit))\n"
        "    assert ''.join(tokenize(line)) == ''.join(line.split()).replace('\u200b', '').replace('\u200d', '')\n"
        "    sentences_of(line, split=True)\n"
    )
    import json

    subprocess.run([sys.executable, "-c", script, json.dumps(list(ADVERSARIAL.values()))], check=True, timeout=60)


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
    from seqlab.data.tokenizer import sentences_of, split_sentences, token_spans

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
    from seqlab.data.tokenizer import split_sentences

    def cut(text):
        return [text[a:b] for a, b in split_sentences(text)]

    assert cut("I like eating apple! The Apple is a great company.") == ["I like eating apple!", "The Apple is a great company."]
    assert cut("Mr. Smith met Dr. J. Watson. They talked.") == ["Mr. Smith met Dr. J. Watson.", "They talked."]
    assert cut('He said "Stop!" Then he left.') == ['He said "Stop!"', "Then he left."]
    assert cut("first part\n\nsecond part") == ["first part", "second part"]
    assert cut("it ends in 2025. but lower case goes on") == ["it ends in 2025. but lower case goes on"]  # a documented limit
    assert cut(" \n ") == []
