"""Where a command may write its ``--output``: never onto a file blipdesk reads.

Every command that writes a file a person names (``explain --output``, ``export --output``,
``results export --output``, a ``--results`` folder) asks ``OutputGuard.check`` first. It refuses,
with one line naming the file, an existing target that is

* a photo: one the cache knows, or any photo file under the command's folders, compared by real
  path (symbolic links) and by identity (``st_dev``, ``st_ino``: hard links made elsewhere);
* an XMP sidecar (blipdesk reads them for tags, ratings and keywords);
* a file of the model folder in use (``config.json``, ``model.safetensors``, the tokenizer);
* anything in blipdesk's data folder;

and, for outputs that are not pictures (an export, a results file), a name with a photo suffix
(``export --output x.png`` would make a file every photo app lists as a broken photo).

``write_atomic``'s own ``protect`` stays the last line of defence for the data folder; this is the
rule for everything else a command reads.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from blipdesk.core.files import PHOTO_SUFFIXES, absolute, is_photo, walk
from blipdesk.infra.atomic import RefusedTarget
from blipdesk.infra.display import display_path

StrPath = str | os.PathLike[str]
SIDECAR_SUFFIX = ".xmp"


class KnownPhotos(Protocol):
    """What the guard asks the cache (``Library`` answers it)."""

    def photo_paths_in(self, folder: str) -> Iterable[str]: ...

    def photo_paths_of_size(self, size: int) -> Iterable[str]: ...


@dataclass(frozen=True)
class OutputGuard:
    """The files a command reads, from which every output stays away."""

    data_dir: StrPath | None = None
    folders: tuple[StrPath, ...] = ()
    model_dir: StrPath | None = None
    known: KnownPhotos | None = None
    extra: tuple[StrPath, ...] = field(default=())

    def check(self, target: StrPath, *, picture: bool = False) -> None:
        """Raise ``RefusedTarget`` when ``target`` is one of the files above; ``picture``: the
        output is an image (``explain``), so a photo suffix on a new name is fine."""
        spelled = os.fspath(target)
        suffix = os.path.splitext(spelled)[1].lower()
        if not picture and suffix in PHOTO_SUFFIXES:
            raise RefusedTarget(
                f"Refusing to write {display_path(spelled)}: a {suffix} name is for photos, and "
                "this output is not a photo; choose another name."
            )
        real = os.path.realpath(spelled)
        for root, what in self._folders_owned():
            if _inside(real, root):
                raise RefusedTarget(_message(spelled, what))
        try:
            st = os.stat(real)
        except OSError:
            return  # a new file: nothing of blipdesk's can be under it
        if not stat.S_ISREG(st.st_mode):
            return  # devices, pipes and folders are write_atomic's to judge
        if suffix == SIDECAR_SUFFIX or real.lower().endswith(SIDECAR_SUFFIX):
            raise RefusedTarget(_message(spelled, "an XMP sidecar blipdesk reads"))
        if self._is_a_photo(real, st):
            raise RefusedTarget(_message(spelled, "a photo of your library"))

    def _folders_owned(self) -> Iterable[tuple[str, str]]:
        if self.data_dir is not None:
            yield (
                os.path.realpath(os.fspath(self.data_dir)),
                "blipdesk's own file (in its data folder)",
            )
        if self.model_dir is not None and os.path.isdir(self.model_dir):
            yield os.path.realpath(os.fspath(self.model_dir)), "a file of the model in use"
        for path in self.extra:
            yield os.path.realpath(os.fspath(path)), "a file blipdesk reads"

    def _is_a_photo(self, real: str, st: os.stat_result) -> bool:
        identity = (st.st_dev, st.st_ino)
        folder = os.path.dirname(real)
        if self.known is not None:
            if real in set(self.known.photo_paths_in(folder)):
                return True
            if st.st_nlink > 1 and _same_file(identity, self.known.photo_paths_of_size(st.st_size)):
                return True
        roots = [os.path.realpath(absolute(f)) for f in self.folders]
        if is_photo(os.path.basename(real)) and any(_inside(real, r) for r in roots):
            return True
        if st.st_nlink > 1:  # a hard link made elsewhere to a photo under the folders
            for root in roots:
                for dirpath, names in walk(root):
                    paths = (os.path.join(dirpath, n) for n in names)
                    if _same_file(identity, paths):
                        return True
        return False


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _same_file(identity: tuple[int, int], paths: Iterable[str]) -> bool:
    for path in paths:
        try:
            other = os.stat(path)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == identity:
            return True
    return False


def _message(spelled: str, what: str) -> str:
    return f"Refusing to write {display_path(spelled)}: it is {what}; choose another output file."
