"""Which part of a searched word the trigram index is asked for: its rarest run of letters and digits.

The trigram index finds `%word%` by intersecting the row lists of every trigram of the word, so it reads as
many entries as those lists hold together: "group_414" reads every row that says "gro", "rou" and "oup"
before the few that say "414". PostgreSQL keeps no statistics of trigrams; a sample of the catalogue's rows
gives each trigram's share, from which the cheapest part of the word to ask the index for is chosen. The whole
word is then checked on the rows that part lets through, so the rows found are the same whatever is chosen:
the choice changes only how many index entries and rows are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# pg_trgm's trigrams are made of the letters and digits of each word, lower-cased; anything else separates.
_RUNS = re.compile(r"[^\W_]+")
# Checking a row the index let through costs far more than reading one of its entries (a heap row and a LIKE
# over its text, against a few compressed bytes): the weight of the rows a part lets through in its cost.
_ROW_WEIGHT = 15.0


def _trigrams(run: str) -> list[str]:
    """A run's trigrams as the index has them inside a word: each three letters in a row (no word-edge padding,
    which `%run%` does not ask for)."""
    return [run[i:i + 3] for i in range(len(run) - 2)]


@dataclass(frozen=True)
class TrigramShares:
    """Each trigram's share of the catalogue's rows, from a sample of `sampled` rows."""

    shares: dict[str, float]
    sampled: int
    # The catalogue's rows when the sample was taken (PostgreSQL's estimate).
    catalogue_rows: float = 0.0

    @classmethod
    def of(cls, counts: Iterable[tuple[str, int]], sampled: int, catalogue_rows: float = 0.0) -> TrigramShares:
        return cls({trigram: count / sampled for trigram, count in counts} if sampled else {}, sampled,
                   catalogue_rows)

    def _share(self, trigram: str) -> float:
        # Not in the sample: rarer than one row in it.
        return self.shares.get(trigram, 0.5 / self.sampled)

    def _cost(self, part: str) -> float:
        """Index entries read for `%part%`, plus the weighted share of rows it lets through (its runs taken as
        independent, each letting through at most its rarest trigram's rows)."""
        entries, through = 0.0, 1.0
        for run in _RUNS.findall(part):
            shares = [self._share(trigram) for trigram in _trigrams(run)]
            if shares:
                entries += sum(shares)
                through *= min(shares)
        return entries + _ROW_WEIGHT * through

    def rows_holding(self, words: Iterable[str]) -> float:
        """About how many rows hold every word: the catalogue's rows times each word's rarest trigram's share,
        the words taken as independent."""
        if not self.sampled:
            return 0.0
        share = 1.0
        for word in words:
            trigrams = [trigram for run in _RUNS.findall(word.lower()) for trigram in _trigrams(run)]
            if trigrams:
                share *= min(self._share(trigram) for trigram in trigrams)
        return self.catalogue_rows * share

    def probe(self, word: str) -> str:
        """The part of `word` (lower-cased) to find through the index: the whole word, or one of its runs of at
        least three ASCII letters and digits when that costs less. Other scripts' trigrams are kept by pg_trgm in
        a form the sample does not show, so a run in them is never chosen alone."""
        lowered = word.lower()
        if not self.sampled:
            return lowered
        runs = [run for run in _RUNS.findall(lowered) if len(run) >= 3 and run.isascii() and run != lowered]
        # min keeps the first of equal costs: the whole word.
        return min([lowered, *runs], key=self._cost)
