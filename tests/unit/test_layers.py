"""The house's picture is its architecture: every module of ``blipdesk`` belongs to a layer (a
folder), and imports only from layers below its own, never sideways into a sibling layer, and
never in a circle. Read statically (an AST walk over every file, imports inside functions
included), so nothing is imported or run and no module can be left off a list.

The map below is the one docs/ARCHITECTURE.md draws; ``test_the_architecture_document_names_
every_layer`` keeps the two together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import blipdesk

PACKAGE = Path(blipdesk.__file__).resolve().parent

# Layer -> rank, lowest first. A module may import its own layer and any layer of lower rank;
# layers of equal rank are siblings and never import each other. A layer with a nested map is
# checked the same way inside. The longest matching name wins.
Layers = dict[str, "tuple[int, Layers | None]"]
LAYERS: Layers = {
    "blipdesk": (0, None),  # the package's face: its version, nothing else
    "blipdesk.infra": (0, None),  # paths, atomic writes, logging, errors, how paths are shown
    "blipdesk.domain": (1, None),  # values and rules: tags, calibration, the tagging rule, names
    "blipdesk.store": (2, None),  # SQLite: every SQL statement, migrations
    "blipdesk.core": (3, None),  # torch, transformers, Pillow: imaging, model, scan, search, teach
    "blipdesk.services": (4, None),  # use cases both shells share
    "blipdesk.cli": (
        5,
        {
            "blipdesk.cli.context": (0, None),  # the parts every command shares
            "blipdesk.cli.args": (0, None),
            "blipdesk.cli.progress": (0, None),
            "blipdesk.cli.commands": (1, None),  # one module per command
            "blipdesk.cli": (2, None),  # the parser and the dispatch
        },
    ),
    "blipdesk.qt": (
        5,
        {
            "blipdesk.qt": (0, None),  # the package's face
            "blipdesk.qt.common": (0, None),  # item roles, score wording, marks, theme
            "blipdesk.qt.workers": (1, None),  # off the GUI thread; never touch a widget
            "blipdesk.qt.models": (1, None),  # Qt item models
            "blipdesk.qt.widgets": (2, None),  # views and dialogs
            "blipdesk.qt.controllers": (3, None),  # one feature each, narrow collaborators
            "blipdesk.qt.window": (4, None),  # the composition root: creates and wires
            "blipdesk.qt.application": (5, None),
        },
    ),
    "blipdesk.app": (6, None),  # picks the window or the command line
    "blipdesk.__main__": (7, None),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The blipdesk modules a file imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in modules else base)
    return {m for m in found if m == "blipdesk" or m.startswith("blipdesk.")}


def _layer(module: str, layers: Layers) -> str:
    names = [n for n in layers if module == n or module.startswith(n + ".")]
    assert names, f"{module} belongs to no layer: add it to LAYERS and docs/ARCHITECTURE.md"
    return max(names, key=len)


def _verdict(source: str, target: str, layers: Layers = LAYERS) -> str | None:
    """None where ``source`` may import ``target``; otherwise why not."""
    mine, theirs = _layer(source, layers), _layer(target, layers)
    if mine == theirs:
        inner = layers[mine][1]
        return None if inner is None else _verdict(source, target, inner)
    rank, other = layers[mine][0], layers[theirs][0]
    if other < rank:
        return None
    return f"{'sideways' if other == rank else 'upward'}: {mine} -> {theirs}"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {m for m in _imports(name, path, modules) if m != name and m in modules}
        for name, path in modules.items()
    }


def test_every_import_runs_down_the_layers():
    wrong = sorted(
        f"{source} imports {target} ({why})"
        for source, targets in _graph().items()
        for target in targets
        if (why := _verdict(source, target)) is not None
    )
    assert wrong == []


def test_no_module_imports_itself_round_a_circle():
    graph = _graph()
    circles: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # A package's face (its __init__) loads before its modules: importing a sibling
            # module from inside the package is not a circle through the face.
            if state.get(nxt) == 1:
                loop = stack[stack.index(nxt) :]
                first = loop.index(min(loop))
                circles.add(tuple(loop[first:] + loop[:first]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert sorted(circles) == []


def test_the_checks_catch_what_they_are_for():
    """The verdict itself, on made-up arrows: upward, sideways and nested arrows are refused."""
    assert _verdict("blipdesk.core.engine", "blipdesk.store.library") is None
    assert _verdict("blipdesk.store.library", "blipdesk.services.sidecars") is not None
    assert "sideways" in str(_verdict("blipdesk.cli.commands.scan", "blipdesk.qt.window"))
    assert _verdict("blipdesk.qt.widgets.menus", "blipdesk.qt.controllers.desk") is not None
    assert _verdict("blipdesk.qt.window", "blipdesk.qt.controllers.desk") is None
    assert _verdict("blipdesk.cli.commands.results", "blipdesk.cli") is not None


def test_no_module_is_longer_than_800_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 800
    }
    assert long == {}


def test_the_architecture_document_names_every_layer():
    text = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")

    def names(layers: Layers) -> list[str]:
        out = []
        for name, (_, inner) in layers.items():
            out.append(name)
            out.extend(names(inner) if inner else [])
        return out

    shown = {n.removeprefix("blipdesk.").replace(".", "/") for n in names(LAYERS)} - {"blipdesk"}
    missing = sorted(n for n in shown if f"`{n}" not in text)
    assert missing == []
