"""The simulator is a package with one module per tool dialect; ``pipelines.simulator`` is a
thin compatibility module re-exporting the very same objects (design.md, "Where things go")."""

from __future__ import annotations

import ast
import importlib
from types import ModuleType

import pytest

from pipelines import simulator
from pipelines.simulate import base, events, school
from support import PROJECT_ROOT

#: xAPI tool name -> its module; each emits only its own statements.
TOOL_MODULES = {
    "lms": "lms",
    "quiz": "quiz",
    "video": "video",
    "reader": "reader",
    "forum": "forum",
    "checkin": "checkin",
}
PACKAGE_MODULES = ("school", "base", "events", "invalid", "caliper", *TOOL_MODULES.values())
PACKAGE = PROJECT_ROOT / "pipelines" / "simulate"


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"pipelines.simulate.{name}")


@pytest.mark.parametrize("name", PACKAGE_MODULES)
def test_each_module_of_the_package_exists(name: str) -> None:
    assert (PACKAGE / f"{name}.py").is_file()
    assert _module(name).__doc__


def test_there_is_one_module_per_xapi_tool_and_it_names_its_tool() -> None:
    assert set(TOOL_MODULES) == set(base.TOOLS)
    for tool, name in TOOL_MODULES.items():
        assert tool == _module(name).TOOL


def test_the_caliper_lms_is_a_module_of_the_package_too() -> None:
    assert _module("caliper").TOOL == "caliper-lms"


def test_the_compatibility_module_re_exports_the_package_objects() -> None:
    """Every name of ``pipelines.simulator`` (bar its CLI) is the package's object itself."""
    modules = [_module(name) for name in PACKAGE_MODULES]
    names = [n for n in simulator.__all__ if n != "main"]
    assert len(names) > 70  # the whole former public surface (78 names)
    for name in names:
        ours = getattr(simulator, name)
        homes = [m for m in modules if name in vars(m)]
        assert homes, f"{name} is not defined in pipelines.simulate"
        assert all(vars(m)[name] is ours for m in homes), name


@pytest.mark.parametrize(
    "name",
    [
        "SimConfig", "School", "User", "SimEvent", "generate_school", "generate_events",
        "case_package", "competencies_for", "roster_rows", "write_roster", "ground_truth",
        "summary", "event_line", "write_events", "xapi_version", "PERSONAE", "CURIOUS", "DEFECTS",
        "TOOLS", "TOOL_CHANNEL", "iso",
    ],
)  # fmt: skip
def test_the_names_other_modules_use_are_re_exported(name: str) -> None:
    assert name in simulator.__all__
    assert callable(simulator.main)


def test_the_main_objects_live_where_the_layout_says() -> None:
    assert simulator.SimConfig is school.SimConfig
    assert simulator.School is school.School
    assert simulator.generate_school is school.generate_school
    assert simulator.SimEvent is base.SimEvent
    assert simulator.generate_events is events.generate_events
    assert simulator.xapi_version is events.xapi_version
    assert simulator.DEFECTS is _module("invalid").DEFECTS
    assert simulator.CHECKIN_NOTES is _module("checkin").CHECKIN_NOTES
    assert simulator.BOOKS is _module("reader").BOOKS


def test_the_package_never_imports_the_compatibility_module() -> None:
    """Modules of the package import each other, never ``pipelines.simulator``."""
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                imported = [node.module or ""] + [
                    f"{node.module}.{a.name}" for a in node.names if node.module
                ]
            elif isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            else:
                continue
            if any(
                i == "pipelines.simulator" or i.startswith("pipelines.simulator.") for i in imported
            ):
                offenders.append(path.name)
    assert offenders == []


def test_the_simulator_module_is_only_a_shim() -> None:
    """No statement building left in ``pipelines/simulator.py``: imports, ``__all__``, the CLI."""
    tree = ast.parse((PROJECT_ROOT / "pipelines" / "simulator.py").read_text())
    defined = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
    ]
    assert defined == ["main"]
