"""The layers, enforced: core (numpy only) <- course helpers <- ui.

The contracts live in pyproject.toml ([tool.importlinter]); ``lint-imports`` checks them here, a
copy of the package with a bad import shows that each contract would catch one, and a run in a
fresh interpreter shows that the core and the course helpers load no widget library.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "marginloops"
LINT = Path(sys.executable).with_name("lint-imports")
WIDGET_LIBRARIES = ("ipywidgets", "bqplot", "traitlets")

pytestmark = pytest.mark.skipif(not LINT.exists(),
                                reason="import-linter is not installed (pip install -e '.[test]')")


def _config() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"]


def _contract(contract_id: str) -> dict:
    return next(c for c in _config()["contracts"] if c["id"] == contract_id)


def _core_on_disk() -> set[str]:
    """The top-level modules and packages of marginloops other than ui and course."""
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    return names - {"ui", "course"}


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": str(LINT.parent), "PYTHONPATH": str(cwd), "HOME": str(cwd)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_contracts_are_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_the_layers_are_ui_then_course_then_the_whole_core():
    layers = _contract("layers")
    assert layers["containers"] == ["marginloops"]
    assert layers["layers"][:2] == ["ui", "course"]
    core = {name.strip().strip("()") for name in layers["layers"][2].split(":")}
    assert core == _core_on_disk(), (
        "pyproject.toml's core layer must list every top-level module of marginloops but ui "
        f"and course: missing {sorted(_core_on_disk() - core)}, "
        f"gone {sorted(core - _core_on_disk())}")
    assert layers["exhaustive"] is True


def test_the_core_and_the_course_helpers_may_not_import_widget_libraries():
    forbidden = _contract("no-widgets-below-ui")
    assert set(forbidden["forbidden_modules"]) == set(WIDGET_LIBRARIES)
    sources = set(forbidden["source_modules"])
    assert sources == {"marginloops.course"} | {f"marginloops.{n}" for n in _core_on_disk()}


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the package and its pyproject.toml that a test may break."""
    shutil.copytree(PACKAGE, tmp_path / "marginloops",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_copy_is_kept_as_it_is(package_copy):
    """The copy is linted as the package is (so the failures below are the bad import's)."""
    assert _lint(package_copy).returncode == 0


@pytest.mark.parametrize("module, line, broken", [
    ("marginloops/numbers.py", "from .ui import style  # noqa", "nothing imports upwards"),
    # (it also breaks the second: through ui.knobs, lesson01 would load traitlets)
    ("marginloops/course/lesson01.py", "from ..ui import knobs  # noqa",
     "nothing imports upwards"),
    ("marginloops/analysis.py", "from .course import lesson03  # noqa",
     "nothing imports upwards"),
    ("marginloops/cascade.py", "import bqplot  # noqa", "do not import ipywidgets"),
    ("marginloops/course/story.py", "import traitlets  # noqa", "do not import ipywidgets"),
])
def test_a_bad_import_breaks_a_contract(package_copy, module, line, broken):
    _append(package_copy / module, line)
    result = _lint(package_copy)
    assert result.returncode != 0
    broken_lines = [x for x in result.stdout.splitlines() if " BROKEN" in x]
    assert any(broken in x for x in broken_lines), result.stdout


def test_a_module_in_no_layer_breaks_the_exhaustive_contract(package_copy):
    (package_copy / "marginloops" / "stray.py").write_text("X = 1\n", encoding="utf-8")
    result = _lint(package_copy)
    assert result.returncode != 0 and "stray" in result.stdout + result.stderr


def test_the_core_and_the_course_helpers_load_no_widget_library():
    """Imported in a fresh interpreter, every core module and course helper leaves ipywidgets,
    bqplot and traitlets unloaded; marginloops.ui loads them (so the check can fail)."""
    core = sorted(_core_on_disk() - {"__main__"})
    courses = sorted(p.stem for p in (PACKAGE / "course").glob("*.py"))
    code = ("import importlib, sys\n"
            f"for name in {['marginloops'] + [f'marginloops.{n}' for n in core]!r} + "
            f"{[f'marginloops.course.{n}' for n in courses]!r}:\n"
            "    importlib.import_module(name)\n"
            f"print(sorted(m for m in {WIDGET_LIBRARIES!r} if m in sys.modules))\n"
            "import marginloops.ui\n"
            f"print(sorted(m for m in {WIDGET_LIBRARIES!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert out == ["[]", repr(sorted(WIDGET_LIBRARIES))]
