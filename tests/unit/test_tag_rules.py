"""The tag rules both shells follow: a tag's sentences (none written: its name) and its colour
(the colour its words name, else the palette's) (issue 25 item 14)."""

from __future__ import annotations

import pytest

from blipdesk.domain import DEFAULT_COLOURS, Tag, new_tag_colour, tag_colour, tag_sentences
from blipdesk.domain.tags import COLOUR_WORDS


@pytest.mark.parametrize(
    ("name", "written", "want"),
    [
        ("beach", [], ("beach",)),
        ("a dog", [], ("a dog",)),
        ("beach", ["sand", "sand", "sea"], ("sand", "sea")),
        ("beach", [" sand "], (" sand ",)),  # as written: the store keeps the exact text
        ("", [], ()),
    ],
)
def test_a_tag_with_no_sentence_is_scored_by_its_name(name, written, want):
    assert tag_sentences(name, written) == want


def test_a_tag_from_examples_keeps_having_no_sentence():
    assert tag_sentences("my dog", [], from_examples=True) == ()


@pytest.mark.parametrize("word", sorted(COLOUR_WORDS))
def test_a_colour_word_in_the_name_or_sentences_names_the_dot(word):
    want = COLOUR_WORDS[word]
    assert tag_colour(Tag(f"{word} square", ("x",))) == want
    assert tag_colour(Tag(f"A {word.upper()}-ish thing", ())) == want
    assert tag_colour(Tag("thing", ("a shape", f"a {word} shape"))) == want
    for before in range(12):  # whichever tag it is, the words win over the palette
        assert new_tag_colour(f"{word} square", (), before) == want
        assert new_tag_colour("square", (f"a {word} square",), before) == want


def test_the_name_is_read_before_the_sentences_and_a_chosen_colour_wins():
    assert tag_colour(Tag("blue square", ("a red square",))) == COLOUR_WORDS["blue"]
    assert tag_colour(Tag("blue square", (), colour="#123456")) == "#123456"


def test_without_a_colour_word_the_palette_is_used():
    for before in range(12):
        assert new_tag_colour("dog", ("a dog on a beach",), before) == DEFAULT_COLOURS[before % 10]
    assert tag_colour(Tag("dog", ("a dog",))) in DEFAULT_COLOURS
    # A colour word inside another word is no colour word ("bluebell", "redwood", "greenhouse").
    for word in ("bluebell", "redwood", "greenhouse", "ordered"):
        assert tag_colour(Tag(word, ())) == DEFAULT_COLOURS[sum(map(ord, word)) % 10]


def test_the_command_line_follows_the_same_rule(tmp_path, capsys):
    import json

    from blipdesk import app

    data = str(tmp_path / "data")
    assert app.main(["--data-dir", data, "tags", "add", "beach", "sand and sea"]) == 0
    assert app.main(["--data-dir", data, "tags", "add", "dog"]) == 0
    assert app.main(["--data-dir", data, "tags", "add", "blue square"]) == 0
    capsys.readouterr()
    assert app.main(["--data-dir", data, "tags", "list", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert listed["beach"]["sentences"] == ["sand and sea"]
    assert listed["dog"]["sentences"] == ["dog"]
    assert listed["blue square"]["sentences"] == ["blue square"]
