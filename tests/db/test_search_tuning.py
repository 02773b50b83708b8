"""db/search/tuning.py: one frozen object per feature, and PostgreSQL's ranking weighed as FTS5's."""

from __future__ import annotations

import dataclasses

import pytest

from db.search.tuning import RETRIEVAL, SEARCH, WORDS


@pytest.mark.parametrize("tuning", [WORDS, SEARCH, RETRIEVAL], ids=lambda t: type(t).__name__)
def test_tuning_is_frozen(tuning: object) -> None:
    field = dataclasses.fields(tuning)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(tuning, field, 0)


def test_ts_rank_weighs_tags_entities_text_as_bm25_does() -> None:
    # ts_rank takes the weights of D, C, B, A; tags are C, entities B, text A.
    assert SEARCH.ts_rank_weights == [0.0, 1 / 3, 2 / 3, 1.0]
