"""Tag text from people: empty, whitespace, 10,000 characters, RTL, emoji, control characters,
duplicates. Each is stored exactly or refused with a clear message; never a crash (issue 6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.domain import Tag
from blipdesk.infra.errors import UserError
from blipdesk.store import Library
from tests.e2e.test_cli import blipdesk
from tests.helpers.models import scene

# Any code point, surrogates included (they arrive from argv bytes that are not UTF-8).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    with Library.open(tmp_path_factory.mktemp("tags") / "library.sqlite3") as lib:
        yield lib


@settings(max_examples=300, deadline=None, database=None)
@given(name=ANY_TEXT, sentences=st.lists(ANY_TEXT, max_size=4), threshold=st.floats())
def test_any_tag_text_is_stored_exactly_or_refused_with_a_message(
    library, name, sentences, threshold
):
    try:
        library.put_tag(Tag(name, tuple(sentences), threshold))
    except UserError as exc:
        assert str(exc).strip() and "\n" not in str(exc).replace(repr(name), "")
        return
    stored = library.tag(name)
    assert stored is not None and stored.threshold == threshold
    assert stored.sentences == tuple(dict.fromkeys(sentences))  # exact text, duplicates once
    assert name.strip() and all(s.strip() for s in sentences) and 0 <= threshold <= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["", "a dog"], "needs a name"),
        (["   ", "a dog"], "needs a name"),
        (["dog", "   "], "non-empty sentence"),
        (["dog", ""], "non-empty sentence"),
        (["line\nbreak"], "control characters"),
        (["dog", "--threshold", "1.5"], "between 0 and 1"),
    ],
)
def test_cli_refuses_bad_tags_in_one_line(tmp_path, args, message):
    result = blipdesk(tmp_path / "data", "tags", "add", *args)
    assert result.returncode in (1, 2) and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_accepts_rtl_emoji_and_duplicates_and_warns_about_long_sentences(
    tmp_path, tiny_model_dir
):
    data = tmp_path / "data"
    assert blipdesk(data, "tags", "add", "x", "--threshold", "0.5").returncode == 0
    # The library's model is the tiny one, so the warning counts real tokens.
    (data / "settings.json").write_text(f'{{"model": "{tiny_model_dir}"}}')
    for name, sentence in [("كلب", "كلب على الشاطئ"), ("🐶", "a dog 🐶 on a beach 🏖️"),
                           ("dog", "a dog"), ("dog", "a dog"), ("שלום", "שלום עולם")]:  # fmt: skip
        result = blipdesk(data, "tags", "add", name, sentence)
        assert result.returncode == 0 and result.stderr == "", result.stderr
    again = blipdesk(data, "tags", "add", "dog", "a dog", "a dog")
    assert again.returncode == 0 and "updated tag 'dog': 1 sentence(s)" in again.stdout
    long = "a dog on a beach " * 600  # 10,200 characters, about 3,000 tokens
    result = blipdesk(data, "tags", "add", "long", long)
    assert result.returncode == 0
    assert "tokens long" in result.stderr and "only the first 512" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    listed = blipdesk(data, "tags", "list", "--json")
    import json

    tags = {t["name"]: t["sentences"] for t in json.loads(listed.stdout)}
    assert tags["كلب"] == ["كلب على الشاطئ"] and tags["long"] == [long] and tags["dog"] == ["a dog"]
    export = blipdesk(data, "export", tmp_path)
    assert export.returncode == 0 and "only the first 512" in export.stderr


def test_scan_tells_when_a_sentence_is_cut(tmp_path, tiny_model_dir, tiny_scorer):
    folder = tmp_path / "photos"
    folder.mkdir()
    scene(40, 30, 1).save(folder / "a.png")
    long = "a dog on a beach " * 600
    with Library.open(tmp_path / "library.sqlite3") as lib:
        summary = scan(lib, [folder], ("a dog", long), model_key(ModelSpec(str(tiny_model_dir))),
                       lambda: tiny_scorer, ScanOptions(use_processes=False))  # fmt: skip
    assert summary.scored == 1
    assert (
        len(summary.notices) == 1
        and "longer than the model reads (512 tokens)" in (summary.notices[0])
    )
