"""The package's layers and the direction of their dependencies (every import counts, including
those inside functions and under ``TYPE_CHECKING``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import stream

PACKAGE = Path(stream.__file__).parent
#: Each layer and the layers of the project it may import, from the pure logic up.
ALLOWED: dict[str, set[str]] = {
    "kpi": set(),
    "config": {"kpi"},
    "ingest": {"kpi", "config"},
    "faust_ext": {"kpi", "config", "ingest"},
    "serving": {"kpi", "config"},
    "pipeline": {"kpi", "config", "ingest", "faust_ext", "serving"},
    "tools": {"kpi", "config", "ingest", "faust_ext", "serving", "pipeline"},
}
#: Libraries that pure KPI logic must not depend on, so it runs and is tested without them.
NOT_IN_KPI = ("faust", "mode", "aiokafka", "kafka", "prometheus_client", "pydantic", "pydantic_settings", "yaml")
#: Only the extension layer may reach into these private parts of the libraries.
PRIVATE_MODULES = ("faust.transport.drivers", "faust.stores", "mode.services")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_of(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).glob("*.py"))


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "stream" and len(parts) > 1 and parts[1] in ALLOWED else None


def test_every_module_is_in_a_layer() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert loose == []
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(ALLOWED)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = {
        f"{path.name} imports {name}"
        for path in modules_of(layer)
        for name in imports_of(path)
        if (other := layer_of(name)) is not None and other != layer and other not in ALLOWED[layer]
    }
    assert not wrong, sorted(wrong)


def test_layers_have_a_docstring_saying_their_rule() -> None:
    for layer in ALLOWED:
        assert ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text())), layer


def test_pure_kpi_logic_imports_no_framework() -> None:
    wrong = {
        f"{path.name} imports {name}"
        for path in modules_of("kpi")
        for name in imports_of(path)
        if name.split(".")[0] in NOT_IN_KPI
    }
    assert not wrong, sorted(wrong)


def test_private_library_internals_are_used_only_in_the_extension_layer() -> None:
    wrong = {
        f"{layer}/{path.name} imports {name}"
        for layer in ALLOWED
        if layer != "faust_ext"
        for path in modules_of(layer)
        for name in imports_of(path)
        if name.startswith(PRIVATE_MODULES)
    }
    assert not wrong, sorted(wrong)


def test_the_checks_see_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import typing\nif typing.TYPE_CHECKING:\n    from stream.pipeline.app import Pipeline\n")
    assert {layer_of(name) for name in imports_of(module)} == {None, "pipeline"}
