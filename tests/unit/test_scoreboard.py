"""The window's ScoreBoard and the store (CLI, export) derive tags with one rule."""

from __future__ import annotations

from blipdesk.domain import SentenceScore, Tag, derive_tags
from blipdesk.services.scoreboard import PhotoScores, ScoreBoard


def test_the_grid_and_the_export_agree_on_every_tag():
    scores = {
        "a beach": SentenceScore(0.7, 0.3, 0.0, 0.0),
        "sand and sea": SentenceScore(0.4, 0.2, 0.0, 0.0),
        "a dog": SentenceScore(0.5, 0.1, 0.0, 0.0),
    }
    tags = [
        Tag("beach", ("a beach", "sand and sea"), 0.6),
        Tag("strict", ("a beach",), 0.8),
        Tag("dog", ("a dog",), 0.5),  # exactly at the threshold: a match
        Tag("cat", ("a cat",), 0.1),  # not scored yet: unknown, not "no"
    ]
    board = ScoreBoard()
    board.merge([PhotoScores("/p.jpg", scores)])
    derived = derive_tags(tags, scores)
    for tag in tags:
        ts = derived.get(tag.name)
        assert board.tag_score("/p.jpg", tag) == (ts.score if ts else None)
        assert board.matches("/p.jpg", tag) == (ts is not None and ts.match)
    assert {n for n, ts in derived.items() if ts.match} == {"beach", "dog"}
    assert "cat" not in derived and board.tag_score("/other.jpg", tags[0]) is None
