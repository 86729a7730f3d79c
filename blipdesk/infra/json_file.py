"""The one reader for the JSON files blipdesk writes and reads back (``settings.json``,
``smart-views.json``), and the one way a damaged one is set aside.

``load_json`` reads a regular file of bounded size (``atomic.read_regular``), decodes it as
UTF-8 JSON without the non-standard ``NaN`` / ``Infinity`` and then hands the value to the
caller's ``check``, which validates every field by type and range and builds the value (raising
``ValueError``, ``TypeError`` or ``OverflowError`` on anything it does not expect). Whatever is
wrong with the file, the caller gets a ``Damaged`` (a ``ValueError``) saying why, never a
traceback: a damaged file never stops the window or a command.

``set_aside`` moves a damaged file out of the way without ever replacing an earlier set-aside
copy (``NAME.bak``, then ``NAME.2.bak``, ``NAME.3.bak``…), so nothing a person wrote is lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from blipdesk.infra.atomic import read_regular

T = TypeVar("T")


class Damaged(ValueError):
    """The file is there but is not what blipdesk wrote (the message says why)."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(path: str | os.PathLike[str], limit: int, check: Callable[[Any], T]) -> T:
    """``check`` applied to the JSON value in ``path``. ``FileNotFoundError`` when there is no
    file; ``OSError`` when it cannot be read (a folder, a pipe, too large, no permission);
    ``Damaged`` when it is not UTF-8 JSON or ``check`` refuses it."""
    data = read_regular(path, limit)
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        return check(value)
    except RecursionError:  # a document nested thousands deep
        raise Damaged("nested too deeply") from None
    except (ValueError, TypeError, OverflowError, KeyError, IndexError) as exc:
        raise Damaged(str(exc) or type(exc).__name__) from None


def set_aside(path: str | os.PathLike[str], suffix: str = ".bak") -> Path:
    """Move ``path`` to ``NAME{suffix}``, or ``NAME.N{suffix}`` where that is taken: never over
    an earlier copy. Returns where it went; ``OSError`` when it cannot be moved."""
    path = Path(path)
    n = 1
    while True:
        target = path.with_name(path.name + suffix if n == 1 else f"{path.name}.{n}{suffix}")
        n += 1
        if os.path.lexists(target):
            continue
        try:  # a link fails where the name was taken meanwhile: no copy is ever replaced
            os.link(path, target)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            os.replace(path, target)
            return target
        os.unlink(path)
        return target
