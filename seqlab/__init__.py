"""seqlab: sequence labelling with RNN, LSTM and GRU encoders, softmax or CRF heads, driven by one YAML file."""
from seqlab.config import Config, load_config
from seqlab.errors import ConfigError, DataError, ModelError, SeqlabError
from seqlab.tagger import TaggedSentence, Tagger

__all__ = ["Config", "ConfigError", "DataError", "ModelError", "SeqlabError", "TaggedSentence", "Tagger", "load_config"]
__version__ = "0.1.0"
