"""bot/ask/decide.py's decision on the seed, rule by rule (the question set measures them together)."""

from __future__ import annotations

from pathlib import Path

from bot.ask.decide import Answer, ask
from bot.ask.embeddings import shared_embedder
from db.drivers.sqlite import Database
from db.facts import FactStore
from db.search.retrieval import Retrieval
from db.seed import load_seed


async def _ask(tmp_path: Path, *questions: str) -> list[Answer]:
    db = await Database.open(tmp_path / "answer.db")
    try:
        store = FactStore(db, 1)
        await load_seed(store)
        retrieval = Retrieval(db, shared_embedder())
        store.retrieval = retrieval
        story = await store.default_story()
        return [(await ask(retrieval, store, q, [story]))[0] for q in questions]
    finally:
        await db.close()


async def test_a_claim_that_holds_all_of_a_question_but_one_word_restating_it_answers(tmp_path: Path) -> None:
    returning, host, leave = await _ask(
        tmp_path,
        "Is Star Search returning?",  # "returning" restates "a reboot of ... Star Search"
        "Who will host the awards show?",  # asks for a detail no claim holds
        "Will Ted Sarandos leave Spotify's board?",  # "leave" is a new subject: it pulls away from the claim
    )
    assert returning.verdict == "answered" and "Star Search" in returning.claims[0].text
    assert not returning.absent and not returning.apart
    assert host.verdict == "nothing" and host.absent == ["host"]
    assert leave.verdict == "nothing" and leave.absent == ["leave"]


async def test_the_claim_itself_must_hold_the_rest_of_the_question(tmp_path: Path) -> None:
    # One claim names the NFL, another a deal with Spotify: together they leave only "sign" out, but
    # neither holds the question but one word, so neither answers it.
    (nfl,) = await _ask(tmp_path, "Did the NFL sign a deal with Spotify?")
    assert nfl.verdict == "nothing" and nfl.absent == ["sign"]


async def test_a_detail_asked_for_comes_from_the_claim_about_its_subject(tmp_path: Path) -> None:
    # "directs" is spelled like the board's "directors", in a claim that says nothing of documentaries.
    directs, who = await _ask(tmp_path, "Who directs the documentaries?", "Who is Ted Sarandos?")
    assert directs.verdict == "nothing" and not directs.claims
    assert "documentaries" in directs.related[0].text
    assert who.verdict == "answered" and "Ted Sarandos" in who.claims[0].text


async def test_how_much_or_how_many_is_answered_only_by_a_claim_that_states_a_quantity(tmp_path: Path) -> None:
    """A second server's story, not the seed: a claim that matches every word of "How much will Apple pay?"
    but states no amount does not answer it; one that states a count answers "How many".
    The number in a name (Formula 1) is not a quantity."""
    from bot.ask.decide import answer_embed
    from db.facts import Actor

    db = await Database.open(tmp_path / "quantity.db")
    try:
        store = FactStore(db, 77)
        retrieval = Retrieval(db, shared_embedder())
        store.retrieval = retrieval
        story = await store.add_story("Apple × F1", "Apple and Formula 1's US rights", default=True)
        curator = Actor(1, "curator")
        for text in (
            "Apple is in early talks to buy a stake in Formula 1's US broadcast rights.",
            "ESPN currently holds the US rights to Formula 1 races.",
            "The 2025 season drew 1.3 million viewers a race on ESPN.",
        ):
            await store.add_claim(story.id, text, actor=curator, reason="seeded", status="reported")
        pay, viewers = [
            (await ask(retrieval, store, q, [story]))[0]
            for q in ("How much will Apple pay?", "How many viewers watch a race?")
        ]
        assert pay.verdict == "nothing" and pay.lacking == "a number or an amount" and not pay.claims
        text = answer_embed("How much will Apple pay?", pay, {}, {story.id: story}).description or ""
        assert "No stored claim on it gives a number or an amount." in text
        assert viewers.verdict == "answered" and "1.3 million viewers" in viewers.claims[0].text
    finally:
        await db.close()
