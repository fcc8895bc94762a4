"""Raw text → tokens with their character offsets, and (optionally) sentences.

Tokens, by these rules in order of precedence:
1. English clitics are split off a word: ``Apple's`` → ``Apple 's``; ``don't`` → ``do n't``.
2. A word is a run of letters, digits, underscores and combining marks, with an inner ``-``, ``'`` or ``/``
   joining two such runs (``state-of-the-art``, ``O'Neil``), or an inner ``.``/``,`` between two digits
   (``3.5``, ``1,000``).
3. Every other non-space character is a token of its own (``apple!`` → ``apple !``; an emoji is a token).

Whitespace (including zero-width and other Unicode separators) only separates tokens, so no token is
empty and each token is exactly ``text[start:end]`` of the text it came from.

Sentences (``split_sentences``), a simple rule-based splitter: a sentence ends after ``.``, ``!``, ``?``
or ``…`` (and any closing quotes or brackets right after it) when the next token starts with an
upper-case letter, a digit or an opening quote or bracket, unless the token before a ``.`` is a known
abbreviation (``Mr``, ``Dr``, ``e.g``, ``Inc`` …) or a single letter (an initial: ``J. Smith``); a blank
line always ends a sentence. Its limits: lower-case sentence starts, abbreviations it does not know
(``approx. 5``) and sentence-final abbreviations (``… Corp. The``) are cut wrongly, and it knows no
language but English's conventions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u0483-\u0489\u0591-\u05bd\u064b-\u065f\u0900-\u0903\u093a-\u094f"
# Each pattern below is one character class or a fixed-length sequence: matching one never backtracks
# over more than a few characters, so the scanner that strings them together is linear in the text.
_RUN = re.compile(rf"[\w{_MARKS}]+")
"""A maximal run of word characters (letters, digits, underscore) and combining marks."""
_GAP = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
"""Whitespace and zero-width characters: they only separate tokens."""
_CLITIC = re.compile(r"(?:'[sS]|'[rR][eE]|'[vV][eE]|'[lL][lL]|'[mM]|'[dD]|[nN]'[tT])(?!\w)")
_NOT = re.compile(r"[nN]'[tT](?!\w)")
_DIGIT = re.compile(r"\d")
_JOINERS = frozenset("-'’/")
_DECIMAL = frozenset(".,")

Offsets = tuple[tuple[int, int], ...]
"""``(start, end)`` of each token in the text it came from: ``text[start:end]`` is the token."""

_ENDS = {".", "!", "?", "…"}
_CLOSERS = {'"', "'", "”", "’", ")", "]", "»"}
_OPENERS = {'"', "'", "“", "‘", "(", "[", "«"}
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e cf al inc ltd co corp dept univ gen col lt sgt rev jan feb mar apr jun jul aug "
    "sep sept oct nov dec no vol pp fig eq approx est".split()
)
"""Words (lower case, without the final ``.``) after which a ``.`` does not end a sentence."""


@dataclass(frozen=True)
class Source:
    """Where a sentence's tokens came from in a raw text."""

    text: str
    """The whole text as given (a line of a file, a document, a request's string)."""
    offsets: Offsets
    """Each token's ``(start, end)`` in ``text``."""
    region: tuple[int, int]
    """The part of ``text`` the sentence stands for: all of it, or one sentence of it when split."""


def sentences_of(text: str, split: bool = False) -> list[tuple[tuple[str, ...], Source]]:
    """The tokens of ``text`` with their ``Source``: one sentence (the whole text, even without tokens),
    or with ``split`` one per sentence of ``split_sentences`` (none for a text without tokens)."""
    spans = token_spans(text)
    regions = _sentence_regions(text, spans) if split else [(0, len(text))]
    out, k = [], 0
    for begin, finish in regions:  # regions and tokens are both in text order: one pass
        first = k
        while k < len(spans) and spans[k][2] <= finish:
            k += 1
        inside = spans[first:k]
        out.append((tuple(t for t, _, _ in inside), Source(text, tuple((start, end) for _, start, end in inside), (begin, finish))))
    return out


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """``(token, start, end)`` for each token of ``text`` (see the module docstring for the rules).

    One pass from left to right: every character is looked at a bounded number of times (at most twice
    within a word), so time is linear in ``len(text)`` whatever the text holds."""
    spans: list[tuple[str, int, int]] = []
    at, size = 0, len(text)
    while at < size:
        gap = _GAP.match(text, at)
        if gap is not None:
            at = gap.end()
            continue
        end = _token_end(text, at)
        spans.append((text[at:end], at, end))
        at = end
    return spans


def tokenize(text: str) -> list[str]:
    """The tokens of ``text``."""
    return [token for token, _, _ in token_spans(text)]


def _joined(text: str, end: int) -> int | None:
    """Where the word run ending at ``end`` continues through a joiner (``-'’/`` between two runs, ``.``
    or ``,`` between two digits): the end of the next run, or ``None``."""
    if end >= len(text):
        return None
    joiner = text[end]
    if joiner in _DECIMAL:
        if not (_DIGIT.match(text, end - 1) and _DIGIT.match(text, end + 1)):
            return None
    elif joiner not in _JOINERS:
        return None
    run = _RUN.match(text, end + 1)
    return run.end() if run is not None else None


def _token_end(text: str, at: int) -> int:
    """The end of the token that starts at ``at`` (a character that is not whitespace).

    A word is runs ``r_0 j_1 r_1 … j_k r_k`` joined by joiners. The token ends, by precedence:
    before the ``n`` of ``n't`` closing ``r_0`` (``do|n't``); after a clitic starting at ``at``; at the end
    of the first ``r_i`` that a clitic follows (``Apple|'s``); before the ``n`` of an ``n't`` closing the
    last such ``r_i`` of two or more characters (``rock-a|n't``); at the end of the word."""
    run = _RUN.match(text, at)
    if run is None:
        clitic = _CLITIC.match(text, at)
        return clitic.end() if clitic is not None else at + 1
    end = run.end()
    if end - at >= 2 and _NOT.match(text, end - 1):
        return end - 1
    clitic = _CLITIC.match(text, at)
    if clitic is not None:
        return clitic.end()
    starts, ends = [at], [end]
    while not _CLITIC.match(text, end):  # the word stops at the first run a clitic follows
        following = _joined(text, end)
        if following is None:
            for start, finish in zip(reversed(starts[1:]), reversed(ends[1:])):
                if finish - start >= 2 and _NOT.match(text, finish - 1):
                    return finish - 1
            return end
        starts.append(end + 1)
        ends.append(following)
        end = following
    return end


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, from its first token's start to its last token's end
    (whitespace between sentences belongs to none); a text without tokens has no sentence."""
    return _sentence_regions(text, token_spans(text))


def _sentence_regions(text: str, spans: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
    """``split_sentences`` for ``text`` already cut into ``spans``."""
    sentences: list[tuple[int, int]] = []
    first = 0
    for k, (_, _, end) in enumerate(spans):
        if k + 1 == len(spans) or _ends_here(spans, k, text):
            sentences.append((spans[first][1], end))
            first = k + 1
    return sentences


def _ends_here(spans: list[tuple[str, int, int]], k: int, text: str) -> bool:
    """Whether a sentence ends after token ``k`` (the next token exists)."""
    token, _, end = spans[k]
    following, next_start, _ = spans[k + 1]
    if text.count("\n", end, next_start) >= 2:
        return True  # a blank line
    if token in _CLOSERS and k > 0 and spans[k - 1][0] in _ENDS:
        token, k = spans[k - 1][0], k - 1  # "…?" then a closing quote: decide on the punctuation
    elif following in _CLOSERS:
        return False  # decide after the closing quote
    if token not in _ENDS:
        return False
    if not (following[:1].isupper() or following[:1].isdigit() or following in _OPENERS):
        return False
    if token == "." and k > 0:
        before = spans[k - 1][0]
        if spans[k - 1][2] == spans[k][1] and (before.lower() in ABBREVIATIONS or (len(before) == 1 and before.isalpha())):
            return False
    return True
