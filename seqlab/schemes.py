"""Tag schemes (IOB1, BIO/IOB2, BIOES): detection, conversion, and the transitions each one forbids.

Conversion goes through spans read with conlleval's rules (``seqlab.metrics.spans``), so an invalid
sequence is repaired exactly the way conlleval would score it (``O I-X`` reads as ``O B-X`` in BIO).
Tags without a ``B-/I-/E-/S-`` prefix (POS tags) are left alone and never constrained.

Each scheme's constraints are one small pure function over ``(previous, next)`` tag pairs:

- BIO: ``I-X`` only continues a ``B-X`` or ``I-X``; a sentence cannot start with ``I-X``.
- IOB1: ``B-X`` only directly after ``B-X``/``I-X`` of the same type (it separates two touching spans);
  a sentence cannot start with ``B-X``.
- BIOES: after ``B-X``/``I-X`` only ``I-X`` or ``E-X``; ``I-X``/``E-X`` only after ``B-X``/``I-X``; a
  sentence starts with ``O``, ``B-*`` or ``S-*`` and ends with ``O``, ``E-*`` or ``S-*``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import torch

from seqlab.metrics import spans

Scheme = Literal["iob1", "bio", "bioes"]
SCHEMES: tuple[str, ...] = ("iob1", "bio", "bioes")


def _parts(tag: str) -> tuple[str, str]:
    """``("B", "PER")`` for prefixed tags, ``("O", "")`` for O, ``("", tag)`` for unprefixed tags."""
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag.partition("-")
    if dash and prefix in ("B", "I", "E", "S") and kind:
        return prefix, kind
    return "", tag


def detect_scheme(sequences: Iterable[Sequence[str]]) -> Scheme:
    """``bioes`` if any ``E-``/``S-`` tag occurs; ``iob1`` if some span opens with ``I-``; else ``bio``."""
    iob1 = False
    for tags in sequences:
        previous = ("O", "")
        for tag in tags:
            prefix, kind = _parts(tag)
            if prefix in ("E", "S"):
                return "bioes"
            if prefix == "I" and (previous[0] not in ("B", "I") or previous[1] != kind):
                iob1 = True
            previous = (prefix, kind)
    return "iob1" if iob1 else "bio"


def convert(tags: Sequence[str], scheme: str) -> list[str]:
    """The same spans written in ``scheme`` (invalid input is read with conlleval's rules first)."""
    out = ["O"] * len(tags)
    for k, tag in enumerate(tags):
        if _parts(tag)[0] == "":
            out[k] = tag  # unprefixed tags pass through
    previous_end, previous_type = -1, ""
    for span in spans(tags):
        if _parts(tags[span.start])[0] == "" and span.end - span.start == 1 and tags[span.start] == span.type:
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


def _allowed_pair(scheme: str, previous: str, tag: str) -> bool:
    p_prefix, p_kind = _parts(previous)
    prefix, kind = _parts(tag)
    if scheme == "bio":
        return prefix != "I" or (p_prefix in ("B", "I") and p_kind == kind)
    if scheme == "iob1":
        return prefix != "B" or (p_prefix in ("B", "I") and p_kind == kind)
    # bioes
    inside = p_prefix in ("B", "I")
    if inside:
        return prefix in ("I", "E") and kind == p_kind
    return prefix not in ("I", "E")


def _allowed_start(scheme: str, tag: str) -> bool:
    prefix = _parts(tag)[0]
    if scheme == "bio":
        return prefix != "I"
    if scheme == "iob1":
        return prefix != "B"
    return prefix not in ("I", "E")


def _allowed_end(scheme: str, tag: str) -> bool:
    return scheme != "bioes" or _parts(tag)[0] not in ("B", "I")


def transition_masks(tags: Sequence[str], scheme: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(allowed (T, T) [from, to], allowed_start (T,), allowed_end (T,))`` bool masks for this tag list."""
    allowed = torch.tensor([[_allowed_pair(scheme, a, b) for b in tags] for a in tags], dtype=torch.bool)  # (T, T)
    start = torch.tensor([_allowed_start(scheme, t) for t in tags], dtype=torch.bool)  # (T,)
    end = torch.tensor([_allowed_end(scheme, t) for t in tags], dtype=torch.bool)  # (T,)
    return allowed, start, end


def sequence_allowed(tags: Sequence[str], scheme: str) -> bool:
    """Whether every start, transition and end of ``tags`` is allowed by ``scheme``'s constraints."""
    if not tags:
        return True
    if not _allowed_start(scheme, tags[0]) or not _allowed_end(scheme, tags[-1]):
        return False
    return all(_allowed_pair(scheme, a, b) for a, b in zip(tags, tags[1:]))
