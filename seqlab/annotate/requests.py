"""What a request to the annotation page's server may hold, checked before anything is written.

    POST /api/answer  {"key": K, "annotator": NAME, "sentence": ID, "action": "accept" | "skip",
                       "spans": [[start, end, "LABEL"], ...], "model": VERSION | null}
    POST /api/undo    {"key": K, "annotator": NAME}

``key`` is chosen by the page for each answer (8–64 letters, digits, ``-`` or ``_``): a request sent
twice stores one answer. Spans are token indices (``end`` one past the last token), sorted, not
overlapping, with a label of the session; a skip holds no span. Every problem is a ``RequestError``:
400 for a body that is not a JSON object, 422 for a field that is wrong, naming the field.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from seqlab.annotate.store import Span
from seqlab.serve.requests import RequestError

BODY_LIMIT = 64 << 10
"""The largest request body, in bytes."""
MAX_SPANS = 1_000
MAX_ID = 10**12
_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True)
class AnswerRequest:
    key: str
    annotator: str
    sentence: int
    action: str
    spans: tuple[Span, ...]
    model: int | None


@dataclass(frozen=True)
class UndoRequest:
    key: str
    annotator: str


def parse_name(value: Any, field: str = "annotator") -> str:
    """A name of 1–64 characters, none of them a control, format or surrogate character."""
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise RequestError(422, f"{field}: expected a name of 1 to 64 characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value) or value != value.strip():
        raise RequestError(422, f"{field}: control, format or unassigned characters, or spaces at either end, are not allowed")
    return value


def _object(body: bytes, keys: set[str], required: set[str]) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RequestError(400, "expected a JSON object in UTF-8") from None
    if not isinstance(data, dict):
        raise RequestError(400, "expected a JSON object")
    unknown = sorted(set(data) - keys)
    if unknown:
        raise RequestError(422, f"unknown field '{str(unknown[0])[:40]}'; expected {', '.join(sorted(keys))}")
    missing = sorted(required - set(data))
    if missing:
        raise RequestError(422, f"{missing[0]}: required")
    return data


def _key(value: Any) -> str:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise RequestError(422, "key: expected 8 to 64 letters, digits, '-' or '_'")
    return value


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(422, f"{field}: expected a whole number from {low} to {high}")
    return value


def _spans(value: Any, labels: list[str]) -> tuple[Span, ...]:
    if not isinstance(value, list) or len(value) > MAX_SPANS:
        raise RequestError(422, f"spans: expected a list of at most {MAX_SPANS} [start, end, label] triples")
    out: list[Span] = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3):
            raise RequestError(422, "spans: each span is [start, end, label]")
        start, end = _whole(item[0], "spans: start", 0, MAX_SPANS * 10), _whole(item[1], "spans: end", 1, MAX_SPANS * 10)
        if not isinstance(item[2], str) or item[2] not in labels:
            raise RequestError(422, f"spans: label must be one of {', '.join(labels)}")
        if start >= end or (out and start < out[-1][1]):
            raise RequestError(422, "spans: each span needs start < end, and spans must be sorted and not overlap")
        out.append((start, end, item[2]))
    return tuple(out)


def parse_answer(body: bytes, labels: list[str]) -> AnswerRequest:
    data = _object(body, {"key", "annotator", "sentence", "action", "spans", "model"}, {"key", "annotator", "sentence", "action", "spans"})
    action = data["action"]
    if action not in ("accept", "skip"):
        raise RequestError(422, "action: expected 'accept' or 'skip'")
    spans = _spans(data["spans"], labels)
    if action == "skip" and spans:
        raise RequestError(422, "spans: a skip holds no span")
    model = data.get("model")
    return AnswerRequest(
        _key(data["key"]), parse_name(data["annotator"]), _whole(data["sentence"], "sentence", 1, MAX_ID), action, spans,
        None if model is None else _whole(model, "model", 0, MAX_ID),
    )


def parse_undo(body: bytes) -> UndoRequest:
    data = _object(body, {"key", "annotator"}, {"key", "annotator"})
    return UndoRequest(_key(data["key"]), parse_name(data["annotator"]))
