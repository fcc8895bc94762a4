#!/usr/bin/env python3
"""A UPOS treebank in CoNLL-U made from CoNLL-2003's part-of-speech column, for comparing recipes on a
tagging task without spans when no Universal Dependencies treebank is at hand.

Each Penn Treebank tag is mapped to its Universal POS tag by the usual correspondence (NN/NNS → NOUN,
NNP/NNPS → PROPN, VB* → VERB, MD → AUX, JJ* → ADJ, RB* → ADV, IN/RP → ADP, DT/PDT/WDT → DET,
PRP/PRP$/WP/WP$/EX → PRON, CC → CCONJ, CD → NUM, TO/POS → PART, UH → INTJ, punctuation → PUNCT,
$/#/SYM → SYM, FW/LS and anything else → X). The PTB tag stays in XPOS; heads and relations are left
empty (``_``). The mapping ignores context (e.g. a PTB ``IN`` that UD would call SCONJ stays ADP), so
this is a stand-in with UPOS's tag set, not a UD treebank.

Usage: python scripts/bench/make_upos_conllu.py ../shared/data/conll2003/train.txt /tmp/upos/train.conllu [--sentences 3000]
"""
from __future__ import annotations

import argparse
from pathlib import Path

UPOS = {
    "NN": "NOUN", "NNS": "NOUN", "NN|SYM": "NOUN", "NNP": "PROPN", "NNPS": "PROPN",
    "VB": "VERB", "VBD": "VERB", "VBG": "VERB", "VBN": "VERB", "VBP": "VERB", "VBZ": "VERB", "MD": "AUX",
    "JJ": "ADJ", "JJR": "ADJ", "JJS": "ADJ", "RB": "ADV", "RBR": "ADV", "RBS": "ADV", "WRB": "ADV",
    "IN": "ADP", "RP": "ADP", "DT": "DET", "PDT": "DET", "WDT": "DET",
    "PRP": "PRON", "PRP$": "PRON", "WP": "PRON", "WP$": "PRON", "EX": "PRON",
    "CC": "CCONJ", "CD": "NUM", "TO": "PART", "POS": "PART", "UH": "INTJ",
    ".": "PUNCT", ",": "PUNCT", ":": "PUNCT", "(": "PUNCT", ")": "PUNCT", '"': "PUNCT", "''": "PUNCT", "``": "PUNCT",
    "$": "SYM", "#": "SYM", "SYM": "SYM",
}


def sentences(path: Path):
    words: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            if words:
                yield words
            words = []
            continue
        words.append((cols[0], cols[1]))
    if words:
        yield words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a CoNLL-2003 file: word POS chunk NER")
    parser.add_argument("out", type=Path)
    parser.add_argument("--sentences", type=int, default=None, help="keep the first N sentences")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    kept = 0
    with open(args.out, "w", encoding="utf-8") as out:
        for words in sentences(args.source):
            if args.sentences is not None and kept >= args.sentences:
                break
            out.write(f"# sent_id = {kept + 1}\n# text = {' '.join(w for w, _ in words)}\n")
            for k, (word, ptb) in enumerate(words, start=1):
                out.write(f"{k}\t{word}\t_\t{UPOS.get(ptb, 'X')}\t{ptb}\t_\t_\t_\t_\t_\n")
            out.write("\n")
            kept += 1
    print(f"{args.out}: {kept} sentences")


if __name__ == "__main__":
    main()
