"""``seqlab export --format torch-export``: a ``torch.export`` program (``.pt2``) from ids to tag ids.

Every loop over time is a ``torch.scan`` (the scratch cells' recurrence, the char BiLSTM's, and both
passes of Viterbi), so the one program takes any batch, length and word width: torch's ``nn.LSTM``
specialises the length under ``torch.export``, so the network is exported through the scratch cells,
which hold the same parameters.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from seqlab.errors import ModelError
from seqlab.export.program import (
    Decoder,
    Emissions,
    Program,
    example_inputs,
    graph_network,
)
from seqlab.tagger.inference import Tagger


def write(tagger: Tagger, out: Path) -> None:
    from torch.export import Dim

    model = graph_network(tagger, "scratch", graph_chars=True, scan=True)
    program = Program(Emissions(model), Decoder(model.head, "scan"))
    batch, length, width = Dim("batch", min=1, max=1 << 20), Dim("length", min=1, max=1 << 20), Dim("word_chars", min=1, max=1 << 16)
    shapes = ({0: batch, 1: length}, {0: batch, 1: length, 2: width}, {0: batch, 1: length}, {0: batch})
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scan op is a prototype and says so
        try:
            exported = torch.export.export(program, example_inputs(tagger, width=3), dynamic_shapes=shapes)
        except Exception as err:  # torch.export raises many types; say which model could not be exported
            raise ModelError(f"torch.export failed for this model ({type(err).__name__}: {str(err).splitlines()[0][:160]})") from None
    torch.export.save(exported, str(out))


def load(path: Path):
    try:
        return torch.export.load(str(path)).module()
    except Exception as err:  # a zip that is not an exported program raises several types
        raise ModelError(f"{path}: not a torch.export file written by seqlab export ({str(err).splitlines()[0][:120]})") from None
