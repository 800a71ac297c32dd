"""The aozora12 protocol of ../shared/corpora/README.md, shared by the grader and calibration benchmarks.

Train: the target's distinct works (sorted as strings, shuffled with Random(0)), first half,
at most 1,500 rows; background: each other author's rows shuffled with Random(1), first 150.
Test: the target's rows from the other works (at most 500) vs rows 150-199 of each other author.
Features are extracted once per row and cached for the whole run.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from rftlab.style.features import extract

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "aozora12.jsonl"


class Aozora:
    def __init__(self, path: str | Path = CORPUS):
        self.rows: dict[str, list[dict]] = defaultdict(list)
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                self.rows[r["author"]].append(r)
        self.authors = sorted(self.rows, key=int)
        self.shuffled = {}
        for a in self.authors:
            idx = list(range(len(self.rows[a])))
            random.Random(1).shuffle(idx)
            self.shuffled[a] = idx
        self._cache: dict[tuple[str, int], dict] = {}

    def chosen(self, only: str = "") -> list[str]:
        return [a for a in self.authors if not only or a in only.split(",")]

    def split(self, target: str) -> tuple[list[int], list[int]]:
        """Row indices of the target's train and test works."""
        rows = self.rows[target]
        works = sorted({r["work"] for r in rows})
        random.Random(0).shuffle(works)
        train_works = set(works[: len(works) // 2])
        train = [i for i, r in enumerate(rows) if r["work"] in train_works][:1500]
        test = [i for i, r in enumerate(rows) if r["work"] not in train_works][:500]
        return train, test

    def background(self, target: str, part: str) -> list[tuple[str, int]]:
        """(author, row) pairs of the other authors: part 'train' = first 150, 'test' = 150-199."""
        lo, hi = (0, 150) if part == "train" else (150, 200)
        return [(a, i) for a in self.authors if a != target for i in self.shuffled[a][lo:hi]]

    def feats(self, author: str, i: int) -> dict:
        if (author, i) not in self._cache:
            self._cache[(author, i)] = extract(self.rows[author][i]["text"])
        return self._cache[(author, i)]
