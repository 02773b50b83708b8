"""Words: how text is cut into words, which words carry nothing, stems, and when two spellings are one word.

The one word module of the project: the lexical claim search (db/search/fts5.py, db/search/postgres.py),
/ask's retrieval (db/search/retrieval.py) and /ask's coverage in the bot all cut and compare words here.
The thresholds are in db/search/tuning.py (`WORDS`).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from db.search.tuning import WORDS

# A word: a letter or digit, then letters, digits, apostrophes, periods or dashes ("co-ceo", "U.S.").
WORD = re.compile(r"[\w][\w'’.-]*", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s$")
_INNER = re.compile(r"[^\w]+")

# Two lists on purpose. FILLER is /ask's: every word that never carries a question, so that a word in it is
# never reported as missing from the store ("Nothing stored mentions ..."). STOPWORDS is the lexical claim
# search's (/fact search, autocomplete): only the words too common to rank by, since there a word such as
# "plan", "start" or "company" the member typed still picks out the claims that hold it.
#
# FILLER: question words, auxiliaries, pronouns, generic verbs (plan, start, happen...), vague nouns that
# stand for "them" (the companies, the deal's parties) and chat filler.
FILLER = frozenset(
    """a about above across after again against ago all almost along already also although always am
    among an and another any anybody anyone anything anyway anywhere are around as ask asked asking at
    away back be became because become been before being below between beyond both but by can cannot
    could did do does doing done down during each either else enough especially even ever every
    everyone everything exactly far few for from further get gets getting give given go goes going gone
    gonna got gotten had happen happened happening happens has have having he hear heard hello her here
    hers herself hey hi him himself his how however i if in including instead into is it its itself
    just kind know known let like likely look looking lot lots made make makes making many may maybe me
    mean means might mine more most much must my myself near need needs neither never new news next no
    nor not nothing now of off often oh ok okay on once one only onto or other others otherwise our ours
    out over own perhaps please plan planned planning plans possible possibly probably put quite rather
    really right said same say saying says see seem seems seen several shall she should since so some
    somebody someone something sometime sometimes soon sort start started starting starts still stuff
    such sure take taken taking tell telling than thank thanks that the their theirs them themselves then
    there these they thing things think this those though through thus till to today too toward towards
    two under unless until up upon us use used very via want wanted wants was way we well went were
    what whatever when whenever where whether which while who whoever whole whom whose why will with
    within without would yeah yes yet you your yours yourself update updates latest info information
    detail details company companies firm firms side sides anymore currently actually already truly
    part involve involved involving regarding coming come comes happen move moves moving moved
    air airs aired airing broadcast broadcasts broadcasting stream streams streamed""".split()
)
# STOPWORDS: words that carry no meaning for matching a question to a claim (all of them are in FILLER).
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being both but by can could
    did do does doing done for from had has have having he her here hers him his how i if in into is it
    its just me more most my no nor not now of off on once only or other our out over own same she
    should so some such than that the their them then there these they this those to too under until up
    very was we were what when where which while who whom why will with would you your yet any anything
    happen happening going gonna really still tell know news latest thing things""".split()
)
# Words that ask about a claim's status: the answer's status line answers them, so they are never missing.
STATUS_WORDS = frozenset(
    """confirm confirmed confirms confirmation true real rumor rumour rumors rumours rumored rumoured
    status official officially legit verified verify denied deny denies fake""".split()
)
_SUFFIXES = (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))


def stem(word: str) -> str:
    """A light suffix stripper: 'interviews', 'interviewed' and 'interview' meet; good enough to compare."""
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def _bare(raw: str) -> str:
    """A matched word without its outer punctuation and possessive ("Netflix's" -> "Netflix")."""
    return _POSSESSIVE.sub("", raw.strip("'’.-"))


# -- the words of a question or a claim -----------------------------------------------------------------
def content_words(text: str) -> list[str]:
    """The lexical search's words of a question, lower-cased, in order, without duplicates or stopwords."""
    seen: dict[str, None] = {}
    for raw in WORD.findall(text.lower()):
        word = _bare(raw)
        if len(word) < 2 or word in STOPWORDS:
            continue
        # Periods and dashes inside words (e.g. "co-ceo") are split the way the FTS tokenizer does.
        for part in _INNER.split(word):
            if len(part) >= 2 and part not in STOPWORDS:
                seen.setdefault(part, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class Term:
    surface: str  # as the member typed it, for "Nothing stored mentions YouTube."
    lower: str
    stem: str
    is_name: bool  # capitalised inside a sentence, an acronym or a number: matched by spelling only
    is_status: bool


def question_terms(question: str) -> list[Term]:
    """/ask's words of a question, in order, without duplicates, filler or FTS5 syntax."""
    out: dict[str, Term] = {}
    for match in WORD.finditer(question):
        before = question[: match.start()].rstrip()
        sentence_start = not before or before[-1] in ".?!:;\"'(“"
        raw = _bare(match.group(0))
        for part in _INNER.split(raw):
            lower = part.lower()
            if len(lower) < 2 or lower in FILLER or lower in out:
                continue
            is_name = (
                (part[:1].isupper() and not sentence_start)
                or any(ch.isupper() for ch in part[1:])
                or any(ch.isdigit() for ch in part)
            )
            out[lower] = Term(part, lower, stem(lower), is_name, lower in STATUS_WORDS)
            sentence_start = False
    return list(out.values())


# Where a question joins two things it asks about ("the awards show and a podcast", "..., and who will
# judge it?"). Each side is asked on its own; a side with no word of its own ("Are Netflix and Spotify
# ...") joins the next one.
_CLAUSE = re.compile(r"[,;]|\b(?:and|or|but|plus|as well as)\b", re.IGNORECASE)


def question_parts(question: str) -> list[list[str]]:
    """The question's words (lower-cased, as in question_terms) per part it joins with and/or/commas."""
    seen: set[str] = set()
    parts = []
    for piece in _CLAUSE.split(question):
        words = [t.lower for t in question_terms(piece) if t.lower not in seen]
        seen.update(words)
        if words:
            parts.append(words)
    return parts


def words_of(*texts: str | Iterable[str]) -> list[str]:
    """Lower-cased words of claim text, tags and entities (tags like 'awards-show' split in two)."""
    out: dict[str, None] = {}
    for text in texts:
        joined = text if isinstance(text, str) else " ".join(text)
        for raw in WORD.findall(joined.lower()):
            for part in _INNER.split(_bare(raw)):
                if len(part) >= 2 and part not in FILLER:
                    out.setdefault(part, None)
    return list(out)


# -- when two spellings are one word ------------------------------------------------------------------
@functools.lru_cache(maxsize=100_000)
def same_word(a: str, b: str) -> bool:
    """Stems equal, one a short extension of the other ('documentar'), or one typo apart ('spotfy')."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    if len(short) < WORDS.fuzzy_min or len(long_) - len(short) > WORDS.extension_max:
        return False
    if long_.startswith(short) or one_swap(a, b):
        return True
    cut = WORDS.word_similarity
    matcher = difflib.SequenceMatcher(None, a, b)
    return matcher.real_quick_ratio() >= cut and matcher.quick_ratio() >= cut and matcher.ratio() >= cut


@functools.lru_cache(maxsize=100_000)
def same_name(a: str, b: str) -> bool:
    """A name as stored, or one slip away from it: two neighbouring letters swapped ("Pual" for Paul,
    as `same_word`); a doubled letter typed once or twice, at any length from 3 ("Pit" for Pitt); or,
    for names of `WORDS.name_typo_min` letters or more, one letter changed, dropped or added. The ratio
    `same_word` uses asks more of short words than one slip leaves: "tysen" / "tyson" scores 0.80,
    "pual" / "paul" 0.75."""
    return (
        same_word(a, b)
        or (min(len(a), len(b)) >= WORDS.doubled_min and undoubled(a) == undoubled(b))
        or (min(len(a), len(b)) >= WORDS.name_typo_min and one_edit(a, b))
    )


def undoubled(word: str) -> str:
    """The word with each run of one letter written once: "pitt" and "pit" are the same to it."""
    return re.sub(r"(.)\1+", r"\1", word)


def one_swap(a: str, b: str) -> bool:
    """True when b is a with exactly two neighbouring letters swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def one_edit(a: str, b: str) -> bool:
    """True when b is a with one letter changed, dropped or added (Levenshtein distance 1)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    short, long_ = sorted((a, b), key=len)
    i = next((k for k, (x, y) in enumerate(zip(short, long_, strict=False)) if x != y), len(short))
    if len(short) == len(long_):
        return short[i + 1 :] == long_[i + 1 :]
    return short[i:] == long_[i + 1 :]


def closest(word: str, vocabulary: Iterable[str], *, n: int, cutoff: float) -> list[str]:
    """At most n words of the vocabulary spelled like `word`, closest first (difflib's ratio)."""
    return difflib.get_close_matches(word, list(vocabulary), n=n, cutoff=cutoff)
