"""A trained tagger: the model directory, the one inference path, and what runs on it.

``bundle`` (the model directory: config, vocabularies, weights; atomic writes), ``inference`` (the
``Tagger``: load, encode, decode, analyse), ``predict`` (streaming prediction over files and text),
``evaluate`` and ``metrics`` (conlleval-exact scores, calibration), ``trace`` (gate values for
``seqlab inspect``), ``shard`` (prediction striped over torchrun processes).

``from seqlab.tagger import Tagger`` (or ``from seqlab import Tagger``) is the public path.
"""
from seqlab.tagger.inference import TaggedSentence, Tagger

__all__ = ["TaggedSentence", "Tagger"]
