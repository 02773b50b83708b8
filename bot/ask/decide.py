"""Decide what /ask can say from what the store holds, and show it. The bot never composes a statement:
it quotes stored claims, describes their stored status and sources, and names the question's words that
nothing stored covers.

Coverage decides: the words that carry the question (names, subjects, what is asked about; never
question words or filler, see db/search/words.py) are each covered by a claim that spells them (allowing
a typo or a suffix) or, for ordinary words, holds a word of the same meaning: a synonym or a kind of it
in WordNet ("prize" / "awards", "films" / "documentaries", bot/ask/lexicon.py), or a word whose vector is
close ("football" ≈ "NFL"). Names are matched by spelling only, so "YouTube" is never taken for "video".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import discord
import numpy as np

from bot.ask.lexicon import Lexicon, shared_lexicon
from bot.kit.formatting import BRAND, STATUS_EMOJI, escape, source_line
from bot.kit.limits import clip, fit_embed
from db.facts import Claim, FactStore, Source, Story
from db.search.retrieval import EmbeddingModel, Retrieval, Retrieved
from db.search.words import Term, question_parts, same_name, same_word, stem, words_of


@dataclass(frozen=True, slots=True)
class Tuning:
    """Every threshold and weight of the decision, each with the measurement that set it. Figures are
    cosines of the embedding model's vectors unless said otherwise; the question sets are
    tests/data/ask_questions.json."""

    # Two ordinary words this close mean about the same thing here: prize/awards 0.49, football/nfl 0.42,
    # negotiating/talks 0.62 on the seed; most unrelated pairs stay below 0.30, but not all
    # (cooking/preparing 0.54: shared word pieces), so a word matched only by meaning never makes a
    # partial answer on its own.
    word_sim: float = 0.35
    # How much a word a claim holds in WordNet's sense ("awards" for "prize") counts, against 1.0 for its
    # spelling: below a spelled word, so a claim that spells the question wins a tie; set by hand.
    synonym_strength: float = 0.8
    # A claim is shown as related to an unanswered question only this close to it (question vs. claim):
    # below it, the first question set's "related" claims were unrelated to the question more often than not.
    related_min: float = 0.40
    # A word held by more than this share of the searched claims (the story's own names) decides nothing.
    ubiquitous_share: float = 0.5
    # ...unless the story holds fewer claims than this: in a story of three claims every word is in most.
    ubiquitous_min_claims: int = 4
    # How much a covered word counts towards ranking claims: a name 1.5, an ordinary word 1.0, a
    # ubiquitous one 0.25. Set by hand with the first question set, where names decide most questions.
    name_weight: float = 1.5
    ubiquitous_weight: float = 0.25
    # Between claims that cover as much, the one closer in meaning to the whole question: the dense score
    # (cosine, under 1.0) times this only breaks ties between coverage scores, which step by 0.25 or more.
    dense_weight: float = 0.3
    # A retracted claim ranks below a live one that covers as much (half an ordinary word).
    retracted_penalty: float = 0.5
    # How far one word a claim does not hold may pull the whole question away from that claim (its cosine
    # with the question, less its cosine with the question without the word) and still only restate it:
    # "returning" to "a reboot of ... Star Search" +0.01, "old" to "the classic talent show" -0.02, while
    # "host" in "Who will host the awards show?" and "worth" in "How much is the deal worth?" pull -0.06.
    drift: float = 0.03


TUNING = Tuning()

# Questions that ask for a detail (who hosts, how much it is worth, when it starts): the word a claim
# does not hold is the detail asked for, so a claim without it never answers them.
_DETAIL = re.compile(r"^\W*(?:who|whom|whose|when|where|which|how\s+(?:much|many|long|often|big|soon))\b", re.I)

# "How much ...?" / "How many ...?" ask for a quantity: a claim answers them only if it states one (a
# number, an amount, a count in words). "How much will Apple pay?" is not answered by "Apple is in talks
# to buy a stake", however well the rest of it matches.
_QUANTITY_ASKED = re.compile(r"^\W*how\s+(?:much|many)\b", re.I)
_QUANTITY = re.compile(
    r"[$€£¥]\s?\d"  # an amount
    r"|\d[\d,.]*\s*(?:%|percent\b|k\b|m\b|bn\b|hundred|thousand|million|billion|trillion)"  # 40%, 65 million
    r"|\b\d[\d,.]*\s+[a-z]+s\b"  # a count of things: 12 episodes (not a name's number: Formula 1, F1)
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|dozens?|"
    r"hundreds|thousands|millions|billions|half|double|twice)\b",
    re.I,
)

Verdict = Literal["answered", "partial", "nothing"]

# Tags that mark a claim as background to the rumor rather than part of it, and tags of the rumor itself.


def is_context(claim: Claim) -> bool:
    """Background to the rumor (analysis, track record, people), not the rumored deal itself: what the
    curators marked the claim as."""
    return claim.is_context


def story_is_archived(story: Story | None) -> bool:
    return story is not None and story.archived


def status_words(claim: Claim, sources: Sequence[Source]) -> str:
    """The claim's stored status and sources in plain words, e.g. 'reported by one outlet, not confirmed'."""
    outlets = list(dict.fromkeys(s.cites or s.outlet for s in sources))
    named = f" ({', '.join(outlets[:3])}{', …' if len(outlets) > 3 else ''})" if outlets else ""
    count = "one outlet" if len(outlets) == 1 else f"{len(outlets)} outlets"
    match claim.status:
        case "rumored":
            return f"a rumor{', relayed by ' + count + named if outlets else ''}, not confirmed"
        case "reported":
            return f"reported by {count}{named}, not confirmed" if outlets else "reported, not confirmed"
        case "corroborated":
            return f"reported independently by {count}{named}, not yet confirmed"
        case "confirmed":
            return f"confirmed, per {', '.join(outlets[:3])}" if outlets else "confirmed"
        case "denied":
            return f"denied{named}"
        case "launched":
            return "launched"
        case "cancelled":
            return "cancelled"
        case "retracted":
            return "retracted: the curators withdrew it as wrong"
    return claim.status


@dataclass
class Answer:
    verdict: Verdict
    claims: list[Claim] = field(default_factory=list)  # the best claim first, then claims covering the rest
    absent: list[str] = field(default_factory=list)  # words of the question nothing stored mentions
    apart: list[str] = field(default_factory=list)  # words stored elsewhere, but in no claim of the answer
    related: list[Claim] = field(default_factory=list)  # shown only as related, never as the answer
    covered: dict[int, set[str]] = field(default_factory=dict)
    lacking: str = ""  # what kind of answer no claim holds ("a number or an amount"), when that decided it

    @property
    def claim_ids(self) -> list[int]:
        return [c.id for c in self.claims + self.related]


def _coverage(
    terms: Sequence[Term],
    claims: Sequence[Claim],
    model: EmbeddingModel,
    lexicon: Lexicon,
    strength: dict[int, dict[str, float]],
) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """Per claim: the question's words it covers, and those of them it spells (not only means);
    `strength` gets how well each is covered (1.0 spelled, TUNING.synonym_strength for WordNet, else the
    vectors' similarity)."""
    words = {c.id: words_of(c.text, c.tags, c.entities) for c in claims}
    ordinary = [t for t in terms if not t.is_name]
    vocab = list(dict.fromkeys(w for ws in words.values() for w in ws))
    sims: dict[str, np.ndarray] = {}
    if ordinary and vocab:
        matrix = model.words([t.lower for t in ordinary]) @ model.words(vocab).T
        column = {w: i for i, w in enumerate(vocab)}
        for t, row in zip(ordinary, matrix, strict=True):
            sims[t.lower] = row
    out: dict[int, set[str]] = {}
    spelled: dict[int, set[str]] = {}
    for c in claims:
        got, exact = set(), set()
        strength[c.id] = {}
        stems = [stem(w) for w in words[c.id]]
        for t in terms:
            same = same_name if t.is_name else same_word
            if any(same(t.lower, w) or same(t.stem, s) for w, s in zip(words[c.id], stems, strict=True)):
                got.add(t.lower)
                exact.add(t.lower)
                strength[c.id][t.lower] = 1.0
            elif not t.is_name and lexicon.covers(t.lower, words[c.id]):
                got.add(t.lower)
                strength[c.id][t.lower] = TUNING.synonym_strength
            elif t.lower in sims and words[c.id]:
                row = sims[t.lower]
                best = max(float(row[column[w]]) for w in words[c.id])
                if best >= TUNING.word_sim:
                    got.add(t.lower)
                    strength[c.id][t.lower] = best
        out[c.id], spelled[c.id] = got, exact
    return out, spelled


def decide(found: Retrieved, model: EmbeddingModel, lexicon: Lexicon | None = None) -> Answer:
    """Whether the store answers the question, part of it, or holds nothing on it."""
    lexicon = lexicon or shared_lexicon()
    central = [t for t in found.terms if not t.is_status]
    candidates = found.candidates
    if not central or not candidates:
        return Answer("nothing", absent=[t.surface for t in central if not found.index.known(t.lower)])
    claims = [c.claim for c in candidates]
    strength: dict[int, dict[str, float]] = {}
    covered, spelled = _coverage(central, claims, model, lexicon, strength)
    ubiquitous = {
        t.lower for t in central if found.index.share(found.index.known(t.lower)) > TUNING.ubiquitous_share
    }
    if found.index.size < TUNING.ubiquitous_min_claims:
        ubiquitous = set()
    weight = {
        t.lower: TUNING.ubiquitous_weight if t.lower in ubiquitous else (TUNING.name_weight if t.is_name else 1.0)
        for t in central
    }

    def score(c: Claim, want: set[str]) -> float:
        return sum(weight[w] * strength[c.id][w] for w in covered[c.id] & want)

    everything = {t.lower for t in central}
    order = {c.claim.id: i for i, c in enumerate(candidates)}
    dense = {c.claim.id: c.dense for c in candidates}
    # Coverage first; between claims that cover as much, the one closer in meaning to the whole question.
    ranked = sorted(
        claims,
        key=lambda c: (
            score(c, everything)
            + TUNING.dense_weight * dense[c.id]
            - (TUNING.retracted_penalty if c.status == "retracted" else 0.0),
            -order[c.id],
        ),
        reverse=True,
    )
    lead = ranked[0]
    if not covered[lead.id]:
        return _nothing(found, central, claims, covered, ubiquitous)
    parts = _parts(found.question, central, ubiquitous)
    if len(parts) > 1:
        by_part = _by_part(found, parts, ranked, covered, spelled, ubiquitous)
        if by_part is not None:
            return by_part
    if len(parts) == 1 and _QUANTITY_ASKED.match(found.question) and not _QUANTITY.search(lead.text):
        nothing = _nothing(found, central, claims, covered, ubiquitous)
        nothing.lacking = "a number or an amount"
        return nothing
    # A one-part question that asks for a detail ("Who directs the documentaries?") is answered by one
    # claim that holds the detail: another claim that spells it (the board's "directors") is about
    # something else, so claims are not joined to cover it.
    detail = len(parts) == 1 and _DETAIL.match(found.question) is not None
    chosen = [lead]
    left = everything - covered[lead.id]
    for c in ranked[1:]:
        if len(chosen) == 3 or not left or detail:
            break
        gain = (covered[c.id] & left) - ubiquitous
        if gain:
            chosen.append(c)
            left -= covered[c.id]
    held = set().union(*(covered[c.id] for c in chosen))
    missing = [t for t in central if t.lower in left]
    # Answering part of a question takes a claim that spells one of its own words, not only a likeness;
    # a question about a name nothing stored holds ("Is YouTube bidding?") has no part answered; and a
    # question that asks one thing, with a word that no claim spells or means ("Who will host the awards
    # show?"), or asks for a detail that the lead claim does not hold, is not answered in part: the
    # claims about the rest of it are only related.
    unheard = {t.lower for t in missing if not found.index.known(t.lower)} - set().union(*covered.values())
    # Only where the claims together fall short: a full answer keeps the claims that complete it.
    lacks = [t for t in central if t.lower not in covered[lead.id]]  # the lead's own, not the chosen claims'
    restated = bool(missing) and _restates(
        found, model, lead, lacks, covered[lead.id] - ubiquitous, dense[lead.id]
    )
    if len(parts) == 1 and restated:
        return Answer(
            "answered",
            [lead],
            [],
            [],
            _related(ranked, [lead], covered[lead.id] - ubiquitous, covered, dense),
            covered,
        )
    if (
        any(t.is_name for t in missing)
        or (len(parts) == 1 and unheard)
        or (detail and missing)
        or (not held - ubiquitous and everything - ubiquitous)
        or (missing and not set().union(*(spelled[c.id] for c in chosen)) - ubiquitous)
    ):
        return _nothing(found, central, claims, covered, ubiquitous)
    absent = [t.surface for t in missing if not found.index.known(t.lower)]
    apart = [t.surface for t in missing if found.index.known(t.lower)]
    related = _related(ranked, chosen, held - ubiquitous, covered, dense)
    return Answer("partial" if missing else "answered", chosen, absent, apart, related, covered)


def _related(
    ranked: Sequence[Claim],
    chosen: Sequence[Claim],
    topic: set[str],
    covered: dict[int, set[str]],
    dense: dict[int, float],
) -> list[Claim]:
    """Other claims about the same things the answer covers, e.g. the talks and the companies' silence."""
    return [
        c
        for c in ranked[len(chosen) :]
        if c not in chosen and topic and topic <= covered[c.id] and dense[c.id] >= TUNING.related_min
    ][:2]


def _restates(
    found: Retrieved,
    model: EmbeddingModel,
    lead: Claim,
    lacks: Sequence[Term],
    held: set[str],
    closeness: float,
) -> bool:
    """Whether a claim answers a one-part question all of whose words it holds but one ordinary word
    ("Is Star Search returning?" / "Netflix has announced a reboot of ... Star Search"): the claim holds
    its names and at least one word of its own subject, the question does not ask for a detail, and the
    word does not pull the question away from the claim (it restates the claim, not a new subject)."""
    if len(lacks) != 1 or lacks[0].is_name or not held or _DETAIL.match(found.question):
        return False
    row = found.index.position.get(lead.id)
    if row is None or row >= found.index.size:
        return False
    without = " ".join(t.surface for t in found.terms if t.lower != lacks[0].lower)
    rest = float(model.embed([without])[0] @ found.index.matrix[row])
    return closeness - rest >= -TUNING.drift


def _parts(question: str, central: Sequence[Term], ubiquitous: set[str]) -> list[list[Term]]:
    """The question's central words per part it joins ("the awards show" / "a podcast"). A part with no
    word of its own, only the story's ubiquitous names ("Are Netflix" in "Are Netflix and Spotify in
    talks?"), joins the part after it (the last one joins the one before)."""
    by_word = {t.lower: t for t in central}
    parts = [[by_word[w] for w in words if w in by_word] for words in question_parts(question)]
    merged: list[list[Term]] = []
    carry: list[Term] = []
    for part in parts:
        carry += part
        if {t.lower for t in carry} - ubiquitous:
            merged.append(carry)
            carry = []
    if carry and merged:
        merged[-1] += carry
    elif carry:
        merged.append(carry)
    return merged


def _by_part(
    found: Retrieved,
    parts: Sequence[Sequence[Term]],
    ranked: Sequence[Claim],
    covered: dict[int, set[str]],
    spelled: dict[int, set[str]],
    ubiquitous: set[str],
) -> Answer | None:
    """A question that joins two or more things: each part is one statement, so one claim must cover all of
    its words (and spell one of them). Parts stored and parts not make a partial answer that names every
    word of the parts not stored; None when no part is stored by one claim (the whole question decides)."""
    answering: list[Claim] = []
    unanswered: list[Sequence[Term]] = []
    for part in parts:
        want = {t.lower for t in part} - ubiquitous
        claim = next((c for c in ranked if want <= covered[c.id] and want & spelled[c.id]), None)
        if claim is None:
            unanswered.append(part)
        elif claim not in answering:
            answering.append(claim)
    if not answering:
        return None
    absent: list[str] = []
    apart: list[str] = []
    for part in unanswered:
        unknown = [t.surface for t in part if t.lower not in ubiquitous and not found.index.known(t.lower)]
        # The words nothing stored mentions are why the part is not answered; a part whose words are all
        # stored, just never in one claim ("a video game"), names them all.
        absent += unknown
        if not unknown:
            apart += [t.surface for t in part if t.lower not in ubiquitous]
    order = {c.id: i for i, c in enumerate(ranked)}
    answering.sort(key=lambda c: order[c.id])
    return Answer("partial" if unanswered else "answered", answering[:3], absent, apart, [], covered)


def _nothing(
    found: Retrieved,
    central: Sequence[Term],
    claims: Sequence[Claim],
    covered: dict[int, set[str]],
    ubiquitous: set[str],
) -> Answer:
    held = set().union(*covered.values()) if covered else set()
    absent = [t.surface for t in central if t.lower not in held and not found.index.known(t.lower)]
    apart = [t.surface for t in central if t.lower not in ubiquitous and t.surface not in absent]
    dense = {c.claim.id: c.dense for c in found.candidates}
    related = [c for c in claims if dense[c.id] >= TUNING.related_min and covered[c.id] - ubiquitous][:3]
    return Answer("nothing", absent=absent, apart=apart, related=related, covered=covered)


async def ask(
    retrieval: Retrieval,
    facts: FactStore,
    question: str,
    stories: Sequence[Story],
    lexicon: Lexicon | None = None,
) -> tuple[Answer, dict[int, list[Source]]]:
    """Search the given stories, decide, and fetch the shown claims' sources in one round trip."""
    found = await retrieval.search(question, [s.id for s in stories], guild_id=facts.guild_id)
    answer = decide(found, retrieval.model, lexicon)
    return answer, await facts.sources_for(answer.claim_ids)


# -- showing it ------------------------------------------------------------------------------------
def _words(words: Sequence[str]) -> str:
    shown = [f"“{escape(clip(w, 40))}”" for w in words[:6]]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _claim_block(
    claim: Claim, sources: Sequence[Source], stories: dict[int, Story], records: Mapping[int, str]
) -> tuple[str, str]:
    label = "Background, not the deal itself · " if is_context(claim) else ""
    story = stories.get(claim.story_id)
    archived = " · from an archived story" if story_is_archived(story) else ""
    name = clip(
        f"#{claim.id} · {STATUS_EMOJI.get(claim.status, '•')} {label}{status_words(claim, sources)}{archived}", 256
    )
    text = escape(clip(claim.text, 600))
    if claim.status == "retracted":
        text = f"~~{text}~~"
    src = "; ".join(source_line(s, records.get(s.id)) for s in sources[:3]) or "no source recorded"
    return name, f"{text}\n*Sources:* {src}"


def answer_embed(
    question: str,
    answer: Answer,
    sources: dict[int, list[Source]],
    stories: dict[int, Story],
    records: Mapping[int, str] | None = None,
) -> discord.Embed:
    """`records`: each source's outlet record in a few words, by source id."""
    records = records or {}
    embed = discord.Embed(title=clip(f"Q: {question}", 256), color=BRAND)
    lines: list[str] = []
    if answer.verdict == "nothing":
        lines.append("Nothing in the fact store answers that.")
        if answer.lacking:
            lines.append(f"No stored claim on it gives {answer.lacking}.")
        if answer.absent:
            lines.append(f"Nothing stored mentions {_words(answer.absent)}.")
        lines.append("Rumor Mill only repeats curated claims. Try `/facts` to browse what is tracked.")
    else:
        if answer.verdict == "partial":
            lines.append("The store answers part of your question.")
            if answer.absent:
                lines.append(f"Nothing stored mentions {_words(answer.absent)}.")
            if answer.apart:
                lines.append(f"Stored claims mention {_words(answer.apart)}, but not together with the rest.")
        lead = answer.claims[0]
        name, value = _claim_block(lead, sources.get(lead.id, []), stories, records)
        lines.append(f"**{name}**\n{value}")
    if answer.claims and stories.get(answer.claims[0].story_id) and len(stories) > 1:
        lines.append(f"*Story:* {escape(stories[answer.claims[0].story_id].title)}")
    embed.description = "\n".join(lines)
    for claim in answer.claims[1:]:
        name, value = _claim_block(claim, sources.get(claim.id, []), stories, records)
        embed.add_field(name=clip(f"Also answering · {name}", 256), value=value, inline=False)
    for claim in answer.related:
        name, value = _claim_block(claim, sources.get(claim.id, []), stories, records)
        heading = "Related, not an answer" if answer.verdict == "nothing" else "Related"
        embed.add_field(name=clip(f"{heading} · {name}", 256), value=value, inline=False)
    embed.set_footer(
        text="Quoted from the curated store with each claim's status; nothing here is the bot's own wording."
    )
    return fit_embed(embed)
