"""The network: embedding → encoder → tagger head.

``embedding`` (words, characters, casing; ``spelling_memo``, ``dropout``, ``pretrained`` vectors,
``backbone`` and ``transformer`` for a pretrained transformer), ``encoder`` and ``cells`` (the RNN,
LSTM and GRU, fused or written out; ``fp32`` keeps fused LSTMs in float32 on the CPU), ``chain``,
``crf``, ``decode`` and ``heads`` (softmax and linear-chain CRF, Viterbi and n-best), ``model`` (the
whole ``TaggerModel``, its sizes derived once from the config and vocabularies).
"""
