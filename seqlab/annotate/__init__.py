"""Annotation with the model in the loop (``seqlab annotate``) and active learning measured on labelled
corpora (``seqlab active simulate``).

``store`` (SQLite: the pool, every answer and its history, models, suggestions), ``pool`` (a source
file → pool sentences), ``strategies`` (which sentence to ask next), ``learner`` (warm-start retraining
and scoring: the one code path of both commands), ``trainer`` (retraining in a process of its own),
``queue`` (the order of questions and who holds which sentence), ``requests`` (what a request may
hold), ``app`` and ``server`` (the page's HTTP server), ``page/`` (the page), ``export`` (training
files and statistics out of the store), ``simulate`` (learning curves).
"""
