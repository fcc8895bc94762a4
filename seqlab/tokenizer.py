"""Raw text → tokens, for ``seqlab predict --text``.

Rules, in order of precedence:
1. English clitics are split off a word: ``Apple's`` → ``Apple 's``; ``don't`` → ``do n't``.
2. A word is a run of letters, digits, underscores and combining marks, with an inner ``-``, ``'`` or ``/``
   joining two such runs (``state-of-the-art``, ``O'Neil``), or an inner ``.``/``,`` between two digits
   (``3.5``, ``1,000``).
3. Every other non-space character is a token of its own (``apple!`` → ``apple !``; an emoji is a token).

Whitespace (including zero-width and other Unicode separators) only separates tokens, so the output
never contains an empty token and joining tokens loses only whitespace.
"""
from __future__ import annotations

import re

_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u0483-\u0489\u0591-\u05bd\u064b-\u065f\u0900-\u0903\u093a-\u094f"
_WORDCHAR = rf"[^\W][{_MARKS}]*|[{_MARKS}]"
_RUN = rf"(?:{_WORDCHAR})+"
_JOIN = r"(?:[-'’/]|(?<=\d)[.,](?=\d))"
_CLITIC = r"(?:'[sS]|'[rR][eE]|'[vV][eE]|'[lL][lL]|'[mM]|'[dD]|[nN]'[tT])(?![^\W])"
_TOKEN = re.compile(
    rf"{_RUN}(?=[nN]'[tT](?![^\W]))"  # the word before n't: "do" of "don't"
    rf"|{_CLITIC}"
    rf"|{_RUN}(?:{_JOIN}{_RUN})*?(?={_CLITIC})"  # a word followed by a clitic
    rf"|{_RUN}(?:{_JOIN}{_RUN})*"
    r"|[^\s\u200b\u200c\u200d\u2060\ufeff]"
)


def tokenize(text: str) -> list[str]:
    """Split raw text into tokens (see the module docstring for the rules)."""
    return _TOKEN.findall(text)
