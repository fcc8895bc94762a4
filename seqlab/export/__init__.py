"""Export a trained tagger as one self-contained program from ids to tag ids, and check it.

    seqlab export --model runs/apple_lstm --format torchscript --out apple.pt --check
    seqlab export --model runs/apple_lstm --format onnx --out apple.onnx --check

Every format takes the ids seqlab's vocabularies give (``seqlab.tagger.inference.Tagger.encode_tokens`` then
``seqlab.data.batches.collate``) and gives the best tag ids (``seqlab.export.program`` says how):

* ``torchscript`` (``seqlab.export.torchscript``): traced network, scripted decode;
* ``torch-export`` (``seqlab.export.torch_export``): a ``torch.export`` program, every loop a ``torch.scan``;
* ``onnx`` (``seqlab.export.onnx``): the scores as an ONNX graph, decoded by ``OnnxTagger``.

``check`` runs the exported program and the eager model on labelled data and reports every sentence
whose tags differ.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from seqlab.data.batches import EncodedSentence
from seqlab.errors import ModelError
from seqlab.export import onnx, torch_export, torchscript
from seqlab.tagger.inference import Tagger, batched

WRITERS: dict[str, Callable[[Tagger, Path], None]] = {
    "torchscript": torchscript.write,
    "onnx": onnx.write,
    "torch-export": torch_export.write,
}
"""Format name (``--format``) → writer ``(tagger, out)``."""
LOADERS: dict[str, Callable[[Path], Callable[..., torch.Tensor]]] = {
    "torchscript": torchscript.load,
    "onnx": onnx.OnnxTagger,
    "torch-export": torch_export.load,
}
"""Format name → loader of a callable ``(words, chars, casing, lengths) → tag ids``."""
FORMATS = tuple(WRITERS)


def _format(fmt: str) -> str:
    if fmt not in WRITERS:
        raise ModelError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def export(tagger: Tagger, fmt: str, out: str | Path) -> Path:
    """Write ``tagger`` in format ``fmt`` to ``out`` (a model with a transformer embedding cannot be: its
    tokenizer runs in Python, outside any graph)."""
    write = WRITERS[_format(fmt)]
    if tagger.model.embedding.transformer is not None:
        raise ModelError("a model with a transformer embedding cannot be exported (its subword tokenizer runs outside the graph); use seqlab predict, seqlab serve or the Python API")
    out = Path(out)
    if out.is_dir():
        raise ModelError(f"{out}: is a directory; --out names the file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write(tagger, out)
    except OSError as err:
        raise ModelError(f"{out}: cannot write ({err.strerror or err})") from None
    return out


def load_exported(path: str | Path, fmt: str = "torchscript") -> Callable[..., torch.Tensor]:
    """A callable ``(words, chars, casing, lengths) → tag ids`` for an exported file (a file that is not
    one is a ``ModelError``)."""
    return LOADERS[_format(fmt)](Path(path))


@dataclass(frozen=True)
class Parity:
    sentences: int
    tokens: int
    mismatched: tuple[int, ...]
    """Indices of the sentences whose exported tags differ from the eager model's."""


@torch.no_grad()
def check(exported: Callable[..., torch.Tensor], tagger: Tagger, encoded: Sequence[EncodedSentence], batch_size: int = 32) -> Parity:
    """Run the exported program and the eager model on ``encoded`` (batched by length) and compare every tag."""
    model = tagger.model.cpu().eval()
    mismatched: list[int] = []
    for batch, positions in batched(encoded, batch_size):
        mine = exported(batch.words, batch.chars, batch.casing, batch.lengths)  # (B, L)
        eager = model.decode(batch)  # (B, L)
        for row, position in enumerate(positions):
            n = int(batch.lengths[row])
            if not torch.equal(mine[row, :n], eager[row, :n]):
                mismatched.append(position)
    tokens = sum(e.words.shape[0] for e in encoded)
    return Parity(len(encoded), tokens, tuple(sorted(mismatched)))
