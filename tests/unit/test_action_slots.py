"""A triggered action or a clicked button sends ``checked`` (a bool) to its slot: a slot with a
defaulted parameter takes it for its own (``more_like_this(top=200)`` ranked ``top=False``: the
0 most alike). Every ``triggered`` / ``clicked`` / ``toggled``-free connection in the Qt shell goes
to a lambda, a signal, or a method whose parameters have no defaults (issue 25)."""

from __future__ import annotations

import ast
from pathlib import Path

QT = Path(__file__).resolve().parents[2] / "blipdesk" / "qt"
SENDING_CHECKED = {"triggered", "clicked"}


def _defaulted_methods() -> dict[str, list[str]]:
    """method name -> where a method of that name has a defaulted parameter (besides self)."""
    out: dict[str, list[str]] = {}
    for path in QT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and (
                        item.args.defaults or any(d is not None for d in item.args.kw_defaults)
                    ):
                        out.setdefault(item.name, []).append(f"{path.name}:{node.name}")
    return out


def _connections():
    for path in QT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "connect"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr in SENDING_CHECKED
                and node.args
            ):
                yield f"{path.relative_to(QT.parent)}:{node.lineno}", node.args[0]


def test_no_action_or_button_sends_checked_into_a_defaulted_parameter():
    defaulted = _defaulted_methods()
    bad = []
    for where, slot in _connections():
        if isinstance(slot, ast.Lambda):
            continue
        if isinstance(slot, ast.Attribute):
            if slot.attr in defaulted:
                bad.append(
                    f"{where}: {slot.attr} has a defaulted parameter ({defaulted[slot.attr]})"
                )
            continue
        bad.append(f"{where}: {ast.unparse(slot)} cannot be checked (wrap it in a lambda)")
    assert not bad, "\n".join(bad)


def test_the_audit_sees_the_connections():
    found = dict(_connections())
    assert len(found) > 10
