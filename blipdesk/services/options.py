"""Settings -> what a scan, a search and a cached score need: one home for both shells.

The command line and the window both turn the person's ``Settings`` into a ``ModelChoice``
(which model, where, how), a ``ScanOptions`` (``scan_options``) and a score key (``write_key``
for what scans write, ``read_key`` for what every reader reads), here and nowhere else, so a
setting reaches both shells alike and every reader reads the key the scans wrote.

Light to import: the engine (numpy, Pillow) loads only when an options value is built, so
``blipdesk --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blipdesk.core.model import ModelSpec
from blipdesk.services.settings import Settings

if TYPE_CHECKING:
    from blipdesk.core.engine import ModelKey, ScanOptions
    from blipdesk.core.scorer import FirstToken
    from blipdesk.store import Library


@dataclass(frozen=True)
class ModelChoice:
    """Which model, where, how: part of every job (the window's worker reloads when it
    changes). Built from the settings by ``model_choice``; the defaults are the settings'."""

    source: str = Settings.model
    revision: str | None = Settings.model_revision
    device: str = Settings.device
    precision: str = Settings.precision
    first_token: FirstToken = "cls"  # Settings.first_token, checked (see first_token)

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(self.source, self.revision)


def first_token(text: str) -> FirstToken:
    """The ITM first token a setting names; settings accept only these two (settings._valid)."""
    return "enc" if text == "enc" else "cls"


def model_choice(
    settings: Settings,
    model: str | None = None,
    device: str | None = None,
    precision: str | None = None,
) -> ModelChoice:
    """The settings' model, device and precision; a shell's overrides (None: the settings'). A
    model given on the command line is taken at its newest revision."""
    source, revision = (model, None) if model else (settings.model, settings.model_revision)
    return ModelChoice(
        source,
        revision,
        device or settings.device,
        precision or settings.precision,
        first_token(settings.first_token),
    )


# Settings fields a scan reads, by their ScanOptions name (the same name on both sides).
SCAN_FIELDS = (
    "batch_size",
    "recursive",
    "feature_cache",
    "feature_format",
    "feature_budget",
    "group_pairs",
)


def scan_options(settings: Settings, features_dir: Path | None, **overrides: Any) -> ScanOptions:
    """The settings' scan options, with the vision cache under ``features_dir`` (None: none),
    then a shell's ``overrides`` by ScanOptions field (a None leaves the settings' value):
    the command line's flags, the window's ``cached_only``, ``low_priority``, ``use_processes``."""
    from blipdesk.core.engine import ScanOptions

    options = ScanOptions(
        features_dir=features_dir, **{name: getattr(settings, name) for name in SCAN_FIELDS}
    )
    return replace(options, **{k: v for k, v in overrides.items() if v is not None})


def write_key(choice: ModelChoice) -> ModelKey:
    """The keys a scan with ``choice`` writes its scores under, without torch. Finds (and, when
    allowed, downloads) the model's files: ``ModelError`` when that fails."""
    from blipdesk.core.engine import model_key

    return model_key(choice.spec, choice.first_token)


def scan_key(library: Library, choice: ModelChoice) -> ModelKey:
    """The keys a scan with ``choice`` writes under. Where the model's files are not on this
    machine and the cache knows the model (results imported from another machine: ``read_key``),
    the cache's key: a scan whose every photo is scored then never needs the weights (a photo
    that does need the model loads it, downloading when allowed). Otherwise ``write_key``."""
    from blipdesk.core.engine import ModelKey
    from blipdesk.core.hub import model_on_disk
    from blipdesk.core.model import image_key_of, source_key
    from blipdesk.infra.errors import ModelError

    spec = choice.spec
    if spec.is_local or model_on_disk(spec.source, spec.revision):
        try:
            return write_key(choice)  # on this machine: nothing to download
        except ModelError:
            pass  # a folder that went away: the cache's record, below
    found = read_key(library, choice)
    if found is not None:
        source, revision = library.model_record(found) or (source_key(spec.source), None)
        return ModelKey(found, image_key_of(found), source, revision)
    return write_key(choice)


def read_key(library: Library, choice: ModelChoice) -> str | None:
    """The score key a reader (the window's grid, teaching, export, search's cache, ...) reads:
    the one a scan with ``choice`` writes. Never downloads: where the model's files are not on
    this machine, the cache's own record of a key for the same source, revision, first token and
    decoding rule stands in (the newest such; any revision when ``choice`` names none, as the
    hub's newest may have been any); None when the cache has none."""
    from blipdesk.core.engine import model_key
    from blipdesk.core.hub import model_on_disk
    from blipdesk.core.model import ModelIdentity, score_key, source_key
    from blipdesk.infra.errors import ModelError

    spec = choice.spec
    if spec.is_local or model_on_disk(spec.source, spec.revision):
        try:
            return model_key(spec, choice.first_token).score_key
        except ModelError:
            pass  # a folder that went away: the cache's record, below
    source = source_key(spec.source)
    # What follows the model's identity in every key: the first token and the decoding rule.
    tail = score_key(ModelIdentity(source, spec.revision, ""), choice.first_token)
    for key, revision in library.model_keys(source):
        if key.endswith(tail) and spec.revision in (None, revision):
            return key
    return None
