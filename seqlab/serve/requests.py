"""What a ``POST /v1/tag`` request may hold, checked: the one place a request body becomes sentences.

    {"texts": ["raw text", ...]}  or  {"tokens": [["pre", "tokenised"], ...]}
    options: "probs": bool, "nbest": 0..100, "split_sentences": bool (texts only)

Every problem is a ``RequestError`` with the HTTP status to answer and a message naming the field.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from seqlab.data.readers import SURROGATE, Sentence
from seqlab.data.tokenizer import sentences_of
from seqlab.tagger.inference import MAX_NBEST

_BREAKS = re.compile("[\n\r\t\x00]")


class RequestError(Exception):
    """A request the service refuses: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What one request may ask for (``seqlab serve`` options)."""

    max_request_bytes: int = 1 << 20
    """Bytes of the request body."""
    max_sentences: int = 256
    """Sentences per request (after splitting)."""
    max_tokens: int = 1000
    """Tokens per sentence."""


@dataclass(frozen=True)
class TagRequest:
    inputs: tuple[tuple[Sentence, ...], ...]
    """Each input (a text or a token list) as its sentences, in order."""
    probs: bool
    nbest: int

    @property
    def sentences(self) -> list[Sentence]:
        return [s for group in self.inputs for s in group]


def parse_tag_request(body: bytes, limits: Limits) -> TagRequest:
    """A checked request from the raw body."""
    if len(body) > limits.max_request_bytes:
        raise RequestError(413, f"request body of {len(body)} bytes; at most {limits.max_request_bytes}")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise RequestError(400, f"invalid JSON ({str(err)[:80]})") from None
    if not isinstance(data, dict):
        raise RequestError(422, f"expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"texts", "tokens", "probs", "nbest", "split_sentences"})
    if unknown:
        raise RequestError(422, f"unknown field '{unknown[0]}'; expected texts or tokens, probs, nbest, split_sentences")
    probs, nbest, split = data.get("probs", False), data.get("nbest", 0), data.get("split_sentences", False)
    if not isinstance(probs, bool):
        raise RequestError(422, "'probs': expected true or false")
    if not isinstance(nbest, int) or isinstance(nbest, bool) or not 0 <= nbest <= MAX_NBEST:
        raise RequestError(422, f"'nbest': expected a whole number from 0 to {MAX_NBEST}")
    if not isinstance(split, bool):
        raise RequestError(422, "'split_sentences': expected true or false")
    if ("texts" in data) == ("tokens" in data):
        raise RequestError(422, "expected exactly one of 'texts' (raw strings) or 'tokens' (lists of tokens)")
    if "texts" in data:
        inputs = _texts(data["texts"], split)
    else:
        if split:
            raise RequestError(422, "'split_sentences' applies to 'texts' only")
        inputs = _tokens(data["tokens"])
    if not inputs:
        raise RequestError(422, "nothing to tag: the request holds no input")
    count = sum(len(group) for group in inputs)
    if count > limits.max_sentences:
        raise RequestError(413, f"{count} sentences in one request; at most {limits.max_sentences}")
    longest = max((len(s.tokens) for group in inputs for s in group), default=0)
    if longest > limits.max_tokens:
        raise RequestError(413, f"a sentence of {longest} tokens; at most {limits.max_tokens}")
    return TagRequest(inputs, probs, nbest)


def _texts(texts: object, split: bool) -> tuple[tuple[Sentence, ...], ...]:
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise RequestError(422, "'texts': expected a list of strings")
    if any("\x00" in t for t in texts):
        raise RequestError(422, "'texts': a text contains a NUL character")
    if any(SURROGATE.search(t) for t in texts):
        raise RequestError(422, "'texts': a text contains a lone surrogate (\\ud800-\\udfff), which is not a character")
    return tuple(tuple(Sentence(tokens, None, 0, source) for tokens, source in sentences_of(text, split)) for text in texts)


def _tokens(token_lists: object) -> tuple[tuple[Sentence, ...], ...]:
    def usable(token: object) -> bool:
        return isinstance(token, str) and bool(token.strip()) and not _BREAKS.search(token)

    if not isinstance(token_lists, list) or not all(isinstance(tokens, list) and all(usable(t) for t in tokens) for tokens in token_lists):
        raise RequestError(422, "'tokens': expected a list of lists of non-empty strings without line breaks, tabs or NUL")
    if any(SURROGATE.search(t) for tokens in token_lists for t in tokens):
        raise RequestError(422, "'tokens': a token contains a lone surrogate (\\ud800-\\udfff), which is not a character")
    return tuple((Sentence(tuple(tokens), None),) for tokens in token_lists)
