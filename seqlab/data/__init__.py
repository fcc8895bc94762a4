"""Corpora: files and raw text → sentences → ids and batches.

``readers`` (CoNLL, CoNLL-U, JSONL, raw text), ``tokenizer`` (raw text → tokens with offsets, and
sentences), ``schemes`` (IOB1/BIO/BIOES, spans, conversions, the decoder's allowed transitions),
``vocab`` (string ↔ id), ``batches`` (word keys, vocabularies, encoding, length-bucketed batches).

``from seqlab.data import collate, encode`` is the public path to the two functions an exported model's
user needs.
"""
from seqlab.data.batches import collate, encode

__all__ = ["collate", "encode"]
