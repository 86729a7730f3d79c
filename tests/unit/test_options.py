"""services/options.py without the window: which score key a reader takes where the model's files
are not on this machine (the both-shells checks are tests/gui/test_options.py)."""

from __future__ import annotations

from dataclasses import replace

from blipdesk.core.imaging import DECODE_RULE_VERSION
from blipdesk.services.options import ModelChoice, model_choice, read_key
from blipdesk.services.settings import Settings


def test_without_the_model_a_reader_takes_the_row_of_its_first_token_and_decoding(library):
    hub = "someone/blip-not-here"
    rule = f"decode={DECODE_RULE_VERSION}"
    cls, enc = f"hub:{hub}@c1|first=cls|{rule}", f"hub:{hub}@c1|first=enc|{rule}"
    library.ensure_model(cls, hub, None)
    library.ensure_model(enc, hub, None)  # the newest row: a switch to enc
    library.ensure_model(f"hub:{hub}@c1|first=cls|decode=0", hub, None)  # an older decoder's
    library.ensure_model(f"hub:{hub}@c9|first=cls|{rule}", hub, "v9")  # a pinned revision
    choice = ModelChoice(hub)
    assert read_key(library, choice) == f"hub:{hub}@c9|first=cls|{rule}"  # the newest, any revision
    assert read_key(library, replace(choice, first_token="enc")) == enc
    assert read_key(library, replace(choice, revision="v9")) == f"hub:{hub}@c9|first=cls|{rule}"
    assert read_key(library, replace(choice, revision="v2")) is None
    assert read_key(library, ModelChoice("someone/else")) is None


def test_the_model_choice_is_the_settings_with_a_shells_overrides():
    settings = Settings(model="org/blip", model_revision="r1", first_token="enc", device="cpu")
    assert model_choice(settings) == ModelChoice("org/blip", "r1", "cpu", "auto", "enc")
    # a model named on the command line is taken at its newest revision
    assert model_choice(settings, "other/blip", precision="fp32") == ModelChoice(
        "other/blip", None, "cpu", "fp32", "enc"
    )
