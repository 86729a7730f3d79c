"""The icon and the desktop file live inside the package (package data), so a wheel has them."""

from __future__ import annotations

from pathlib import Path

import blipdesk
from blipdesk.qt import application


def test_resources_are_package_data(qapp):
    package = Path(blipdesk.__file__).resolve().parent
    assert package / "resources" == application.RESOURCES
    for name in ("blipdesk.svg", "blipdesk.png", "blipdesk.desktop"):
        assert (application.RESOURCES / name).is_file()
    assert not application.app_icon().isNull()
