"""Arrows point inward: the core, the store and the CLI never import Qt, and nothing heavy loads
before it is needed (``--help`` and the window appear without torch or transformers)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import blipdesk


def _loaded(code: str) -> set[str]:
    probe = (
        f"{code}\nimport sys\nprint('LOADED:', "
        "*[m for m in ('PySide6', 'torch', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("LOADED:"))
    return set(line.split()[1:])


def test_core_store_and_cli_never_import_qt():
    loaded = _loaded(
        "import blipdesk.core.imaging, blipdesk.core.model, blipdesk.core.device, "
        "blipdesk.core.scorer, blipdesk.core.engine, blipdesk.core.feature_cache, blipdesk.store, "
        "blipdesk.cli, blipdesk.core.files, blipdesk.services.export, blipdesk.services.jobs, "
        "blipdesk.services.settings, blipdesk.services.sidecars, blipdesk.services.copying"
    )
    assert "PySide6" not in loaded


def test_help_and_the_command_line_load_neither_torch_nor_qt():
    loaded = _loaded(
        "import blipdesk.app, blipdesk.cli, blipdesk.core.engine\n"
        "try:\n    blipdesk.app.main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert loaded == set()


def test_the_window_module_does_not_load_torch_at_import():
    loaded = _loaded("import blipdesk.qt.application")
    assert "torch" not in loaded and "transformers" not in loaded


def test_the_store_depends_on_nothing_above_it():
    """docs/ARCHITECTURE.md: the store holds SQL only; the core and the shells build on it."""
    probe = (
        "import sys, blipdesk.store\n"
        "print(sorted(m for m in sys.modules if m.startswith(('blipdesk.core', 'blipdesk.qt', "
        "'blipdesk.cli'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (lazy imports count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_qt_never_imports_the_cli():
    """The two shells share the Qt-free modules (e.g. ``blipdesk.services.export``), never each other."""
    qt = Path(blipdesk.__file__).parent / "qt"
    offenders = {
        str(f.relative_to(qt)): sorted(m for m in _imports(f) if m.startswith("blipdesk.cli"))
        for f in sorted(qt.rglob("*.py"))
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_main_window_only_wires():
    """docs/ARCHITECTURE.md: features live in their own widgets, models and controllers; the
    window composes and connects them (issue 11 measured 832 lines and 60 methods)."""
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "blipdesk" / "qt" / "window.py"
    lines = source.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 400, len(lines)
    assert "_tasks[" not in source.read_text(encoding="utf-8")  # no dispatch on strings
