"""String ↔ id vocabularies, saved as JSON."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from seqlab.errors import ModelError

PAD = "<pad>"
UNK = "<unk>"


class Vocab:
    """An ordered list of strings with their ids.

    With ``specials=True`` id 0 is ``<pad>`` and id 1 is ``<unk>``: unknown strings map to 1. Without
    specials (tag vocabularies) every id is a real item and an unknown string raises ``KeyError``.
    """

    def __init__(self, items: Sequence[str], specials: bool) -> None:
        self.specials = specials
        self.items: list[str] = ([PAD, UNK] if specials else []) + [s for s in items if s not in (PAD, UNK)]
        self.index: dict[str, int] = {s: i for i, s in enumerate(self.items)}
        if len(self.index) != len(self.items):
            raise ValueError("vocabulary items must be distinct")

    @classmethod
    def build(cls, tokens: Iterable[str], min_count: int = 1, specials: bool = True) -> "Vocab":
        """Items seen at least ``min_count`` times, most frequent first (ties in first-seen order)."""
        counts = Counter(tokens)
        ordered = sorted(counts, key=lambda s: -counts[s])  # sorted() is stable: ties keep first-seen order
        return cls([s for s in ordered if counts[s] >= min_count], specials)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.index

    @property
    def unk_id(self) -> int:
        assert self.specials, "a vocabulary without specials has no unknown id"
        return 1

    def id(self, item: str) -> int:
        """The id of ``item``; ``<unk>`` for unknown items when the vocabulary has specials."""
        found = self.index.get(item)
        if found is not None:
            return found
        if self.specials:
            return 1
        raise KeyError(item)

    def ids(self, items: Iterable[str]) -> list[int]:
        return [self.id(s) for s in items]

    def to_json(self) -> dict[str, Any]:
        body = self.items[2:] if self.specials else self.items
        return {"specials": self.specials, "items": body}

    @classmethod
    def from_json(cls, data: Any, name: str) -> "Vocab":
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("specials"), bool)
            or not isinstance(data.get("items"), list)
            or not all(isinstance(s, str) for s in data["items"])
        ):
            raise ModelError(f"vocabulary '{name}': expected {{'specials': bool, 'items': [str, ...]}}")
        try:
            return cls(data["items"], data["specials"])
        except ValueError as err:
            raise ModelError(f"vocabulary '{name}': {err}") from None
