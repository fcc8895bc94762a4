"""seqlab: sequence labelling with RNN, LSTM and GRU encoders, softmax or CRF heads, driven by one YAML file.

``from seqlab import Tagger`` works as usual; the modules that need torch are imported on first use, so
``import seqlab`` (and ``seqlab --help``) stays fast.
"""
from typing import Any

from seqlab.config.settings import Config, load_config
from seqlab.errors import ConfigError, DataError, ModelError, SeqlabError

__all__ = ["Config", "ConfigError", "DataError", "ModelError", "SeqlabError", "TaggedSentence", "Tagger", "load_config"]
__version__ = "0.1.0"

_LAZY = {"Tagger": "seqlab.tagger.inference", "TaggedSentence": "seqlab.tagger.inference"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seqlab' has no attribute {name!r}")
