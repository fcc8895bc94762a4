"""Tags and tag schemes (IOB1, BIO/IOB2, BIOES): parsing a tag, reading spans, detection, conversion,
the tag set a model outputs, and the transitions each scheme forbids.

Spans follow conlleval's chunk rules, so IOB1, BIO (IOB2) and BIOES input are all read correctly: a span
starts at ``B-X`` or ``S-X``, at ``I-X``/``E-X`` after ``O``, ``E-*`` or ``S-*``, or wherever the type
changes; it ends before ``B``, ``S``, ``O`` or a type change, and after ``E``/``S``. A tag with no
``B-/I-/E-/S-`` prefix (a POS tag such as ``NOUN``) is a one-token span of its own type; ``O`` is outside.

Conversion goes through those spans, so an invalid sequence is repaired exactly the way conlleval would
score it (``O I-X`` reads as ``O B-X`` in BIO). Tags without a prefix are left alone and never constrained.

Each scheme's constraints are one small pure function over ``(previous, next)`` tag pairs:

- BIO: ``I-X`` only continues a ``B-X`` or ``I-X``; a sentence cannot start with ``I-X``.
- IOB1: ``B-X`` only directly after ``B-X``/``I-X`` of the same type (it separates two touching spans);
  a sentence cannot start with ``B-X``.
- BIOES: after ``B-X``/``I-X`` only ``I-X`` or ``E-X``; ``I-X``/``E-X`` only after ``B-X``/``I-X``; a
  sentence starts with ``O``, ``B-*`` or ``S-*`` and ends with ``O``, ``E-*`` or ``S-*``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from seqlab.data.readers import Sentence
from seqlab.errors import DataError

Scheme = Literal["iob1", "bio", "bioes", "none"]
SCHEMES: tuple[str, ...] = ("iob1", "bio", "bioes")
"""The span schemes. ``none`` (plain labels such as POS tags: no prefixes, no spans across tokens) is not one."""
PREFIXES: dict[str, str] = {"iob1": "BI", "bio": "BI", "bioes": "BIES", "none": ""}
"""The prefixes each scheme writes."""


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-ORG"`` → ``("B", "ORG")``; ``"O"`` → ``("O", "")``; an unprefixed tag ``"NOUN"`` → ``("", "NOUN")``."""
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag.partition("-")
    if dash and prefix in ("B", "I", "E", "S") and kind:
        return prefix, kind
    return "", tag


@dataclass(frozen=True)
class Span:
    start: int
    """Index of the first token."""
    end: int
    """Index one past the last token."""
    type: str
    """Entity type (``PER``, ``FRUIT``…)."""


def _ends(prev: str, prev_type: str, cur: str, cur_type: str) -> bool:
    """conlleval's endOfChunk: does the chunk open at the previous token end before this one?"""
    if prev in ("E", "S"):
        return True
    if prev in ("B", "I") and cur in ("B", "S", "O"):
        return True
    return prev != "O" and prev_type != cur_type


def _starts(prev: str, prev_type: str, cur: str, cur_type: str) -> bool:
    """conlleval's startOfChunk: does a chunk start at this token?"""
    if cur in ("B", "S"):
        return True
    if prev in ("E", "S", "O") and cur in ("E", "I"):
        return True
    return cur != "O" and prev_type != cur_type


def spans(tags: Sequence[str]) -> list[Span]:
    """The spans of one tag sequence, in order (an unprefixed tag reads as ``S-`` of its own type)."""
    found: list[Span] = []
    prev, prev_type = "O", ""
    start: int | None = None
    for i, tag in enumerate(tags):
        cur, cur_type = split_tag(tag)
        cur = cur or "S"
        if start is not None and _ends(prev, prev_type, cur, cur_type):
            found.append(Span(start, i, prev_type))
            start = None
        if _starts(prev, prev_type, cur, cur_type):
            start = i
        prev, prev_type = cur, cur_type
    if start is not None:
        found.append(Span(start, len(tags), prev_type))
    return found


def tag_set(model_tags: Iterable[str], scheme: str) -> list[str]:
    """Every tag a model whose tags are ``model_tags`` can output once its sequences are written in
    ``scheme``: each entity type with all of the scheme's prefixes, plus ``O`` and unprefixed tags; sorted."""
    out = set()
    for tag in model_tags:
        prefix, kind = split_tag(tag)
        if prefix in ("B", "I", "E", "S"):
            out |= {f"{p}-{kind}" for p in PREFIXES[scheme]}
        else:
            out.add(tag)
    return sorted(out)


def detect_scheme(sequences: Iterable[Sequence[str]]) -> Scheme:
    """``none`` if no tag has a ``B-/I-/E-/S-`` prefix but some tag is not ``O`` (plain labels); else
    ``bioes`` if any ``E-``/``S-`` tag occurs; ``iob1`` if some span opens with ``I-``; else ``bio``."""
    iob1 = bioes = prefixed = plain = False
    for tags in sequences:
        previous = ("O", "")
        for tag in tags:
            prefix, kind = split_tag(tag)
            prefixed |= prefix not in ("O", "")
            plain |= prefix == ""
            bioes |= prefix in ("E", "S")
            if prefix == "I" and (previous[0] not in ("B", "I") or previous[1] != kind):
                iob1 = True
            previous = (prefix, kind)
    if plain and not prefixed:
        return "none"
    return "bioes" if bioes else "iob1" if iob1 else "bio"


def check_tags(sentences: Iterable[Sentence], scheme: str, path: str | Path | None) -> None:
    """Under a span scheme every tag is ``O`` or ``PREFIX-TYPE``: a bare tag such as ``FRUIT`` is a
    ``DataError`` naming the file and the sentence's line (with ``none`` every tag is a plain label)."""
    if scheme not in SCHEMES:
        return
    for sentence in sentences:
        for k, tag in enumerate(sentence.tags or ()):
            if split_tag(tag)[0] == "":
                raise DataError(
                    path, sentence.line or None,
                    f"tag '{tag}' (token {k + 1} of the sentence starting here) is neither O nor PREFIX-TYPE as {scheme.upper()} "
                    f"needs; set data.tag_scheme: none to read every tag as a plain label (POS tags)",
                )


def convert(tags: Sequence[str], scheme: str) -> list[str]:
    """The same spans written in ``scheme`` (invalid input is read with conlleval's rules first)."""
    out = ["O"] * len(tags)
    for k, tag in enumerate(tags):
        if split_tag(tag)[0] == "":
            out[k] = tag  # unprefixed tags pass through
    previous_end, previous_type = -1, ""
    for span in spans(tags):
        if split_tag(tags[span.start])[0] == "" and span.end - span.start == 1 and tags[span.start] == span.type:
            previous_end, previous_type = span.end, span.type
            continue
        length = span.end - span.start
        if scheme == "bioes":
            if length == 1:
                out[span.start] = f"S-{span.type}"
            else:
                out[span.start : span.end] = [f"B-{span.type}"] + [f"I-{span.type}"] * (length - 2) + [f"E-{span.type}"]
        elif scheme == "bio":
            out[span.start : span.end] = [f"B-{span.type}"] + [f"I-{span.type}"] * (length - 1)
        else:  # iob1: B- only where a span directly follows one of the same type
            touching = previous_end == span.start and previous_type == span.type
            out[span.start : span.end] = [f"{'B' if touching else 'I'}-{span.type}"] + [f"I-{span.type}"] * (length - 1)
        previous_end, previous_type = span.end, span.type
    return out


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    """Whether ``tags`` is already a well-formed sequence of ``scheme``."""
    return list(tags) == convert(tags, scheme)


PREFIX_CODES = {"B": 0, "I": 1, "E": 2, "S": 3, "O": 4, "": 5}
"""Each prefix as a small integer, so that the rules below work on whole tag sets at once."""
_B, _I, _E = PREFIX_CODES["B"], PREFIX_CODES["I"], PREFIX_CODES["E"]


def _codes(tags: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(prefix (T,), kind (T,))`` codes of each tag (kinds numbered in order of appearance)."""
    parts = [split_tag(t) for t in tags]
    kinds: dict[str, int] = {}
    prefix = torch.tensor([PREFIX_CODES[p] for p, _ in parts], dtype=torch.long)  # (T,)
    kind = torch.tensor([kinds.setdefault(k, len(kinds)) for _, k in parts], dtype=torch.long)  # (T,)
    return prefix, kind


def _allowed_pair(scheme: str, p_prev: torch.Tensor, k_prev: torch.Tensor, p_next: torch.Tensor, k_next: torch.Tensor) -> torch.Tensor:
    """Whether a tag of prefix ``p_next`` and kind ``k_next`` may follow one of ``p_prev``/``k_prev`` (any
    broadcastable shapes)."""
    same = k_prev == k_next
    inside = (p_prev == _B) | (p_prev == _I)
    if scheme == "bio":  # I-X only continues a B-X or I-X
        return (p_next != _I) | (inside & same)
    if scheme == "iob1":  # B-X only directly after B-X/I-X of the same type
        return (p_next != _B) | (inside & same)
    continues = (p_next == _I) | (p_next == _E)  # bioes: after B-X/I-X only I-X/E-X; I/E only after B-X/I-X
    return torch.where(inside, continues & same, ~continues)


def _allowed_start(scheme: str, prefix: torch.Tensor) -> torch.Tensor:
    if scheme == "bio":
        return prefix != _I
    if scheme == "iob1":
        return prefix != _B
    return (prefix != _I) & (prefix != _E)


def _allowed_end(scheme: str, prefix: torch.Tensor) -> torch.Tensor:
    if scheme != "bioes":
        return torch.ones_like(prefix, dtype=torch.bool)
    return (prefix != _B) & (prefix != _I)


def transition_masks(tags: Sequence[str], scheme: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(allowed (T, T) [from, to], allowed_start (T,), allowed_end (T,))`` bool masks for this tag list,
    built at once from the tags' prefix and kind codes (linear in Python, ``T²`` only in the mask)."""
    prefix, kind = _codes(tags)
    allowed = _allowed_pair(scheme, prefix.unsqueeze(1), kind.unsqueeze(1), prefix.unsqueeze(0), kind.unsqueeze(0))  # (T, T)
    return allowed, _allowed_start(scheme, prefix), _allowed_end(scheme, prefix)


def sequence_allowed(tags: Sequence[str], scheme: str) -> bool:
    """Whether every start, transition and end of ``tags`` is allowed by ``scheme``'s constraints."""
    if not tags:
        return True
    prefix, kind = _codes(tags)
    pairs = _allowed_pair(scheme, prefix[:-1], kind[:-1], prefix[1:], kind[1:])  # (n - 1,)
    return bool(_allowed_start(scheme, prefix[0]) and _allowed_end(scheme, prefix[-1]) and pairs.all())
