"""The environment a class gets (issue 10, item 7): Voilà installed with the package, the
JupyterLab news pop-up switched off by settings the package ships, Binder's pins consistent with
the package's dependencies, and the README's local Voilà command.

The news setting: JupyterLab's settings server reads ``overrides.d/*.json`` (one a package) and
``overrides.json`` (the user's) from its application settings directory,
``{sys.prefix}/share/jupyter/lab/settings`` (https://jupyterlab.readthedocs.io/en/stable/user/
directories.html; jupyterlab_server.settings_utils); the setting is ``fetchNews`` of
``@jupyterlab/apputils-extension:notification``
(https://jupyterlab.readthedocs.io/en/stable/user/announcements.html). The browser side (no
pop-up, ``/voila/render/...`` served by JupyterLab) is tests/browser/test_environment_browser.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
OVERRIDES = ROOT / "jupyter-config" / "lab" / "settings" / "overrides.d" / "marginloops.json"
NOTIFICATION = "@jupyterlab/apputils-extension:notification"


def binder_pins() -> dict[str, Version]:
    """``binder/requirements.txt`` as {normalised name: pinned version}."""
    pins = {}
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line == ".":
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"binder/requirements.txt must pin exactly: {line!r}"
        pins[re.sub(r"[-_.]+", "-", req.name).lower()] = Version(spec.version)
    return pins


def runtime_requirements() -> list[Requirement]:
    return [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]


def test_voila_is_a_runtime_dependency():
    names = {r.name.lower() for r in runtime_requirements()}
    assert "voila" in names, "the README's first command (pip install -e .) must install Voilà"
    extras = {Requirement(r).name.lower() for r in PYPROJECT["project"]["optional-dependencies"]
              ["test"]}
    assert "voila" not in extras, "Voilà is a runtime dependency, not only a test extra"


@pytest.mark.parametrize("req", runtime_requirements(), ids=str)
def test_binder_pins_every_runtime_dependency_within_its_bounds(req):
    pins = binder_pins()
    name = re.sub(r"[-_.]+", "-", req.name).lower()
    assert name in pins, f"{req.name} is a dependency but binder/requirements.txt does not pin it"
    assert req.specifier.contains(pins[name]), (
        f"binder pins {req.name}=={pins[name]}, outside the package's {req.specifier}")


@pytest.mark.parametrize("req", runtime_requirements(), ids=str)
def test_the_test_environment_has_binders_versions(req):
    """.ci/run installs under binder's pins as constraints: the venv must hold those versions."""
    from importlib.metadata import version

    name = re.sub(r"[-_.]+", "-", req.name).lower()
    assert Version(version(req.name)) == binder_pins()[name]


def test_overrides_switch_the_news_off_with_values_the_schema_allows():
    overrides = json.loads(OVERRIDES.read_text())
    assert overrides[NOTIFICATION]["fetchNews"] == "false"
    assert overrides[NOTIFICATION]["checkForUpdates"] is False
    import jupyterlab

    schema = json.loads((Path(jupyterlab.__file__).parent / "schemas" / "@jupyterlab"
                         / "apputils-extension" / "notification.json").read_text())
    props = schema["properties"]
    assert set(overrides[NOTIFICATION]) <= set(props)
    allowed = {choice["const"] for choice in props["fetchNews"]["oneOf"]}
    assert "false" in allowed and "false" != props["fetchNews"]["default"]


def test_the_wheel_installs_the_overrides_where_jupyterlab_reads_them():
    shared = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    source = OVERRIDES.relative_to(ROOT).as_posix()
    assert shared[source] == "share/jupyter/lab/settings/overrides.d/marginloops.json"


def test_this_environment_has_the_overrides_installed():
    """What ``pip install -e .`` (the README, .ci/run, Binder's ``.``) put under sys.prefix is
    the file of the repository, in the directory JupyterLab reads application settings from."""
    from jupyterlab.commands import get_app_dir

    installed = Path(get_app_dir()) / "settings" / "overrides.d" / "marginloops.json"
    assert installed.exists(), (
        f"{installed} is missing: reinstall the package (pip install -e .) so its shared-data "
        "is installed")
    assert json.loads(installed.read_text()) == json.loads(OVERRIDES.read_text())
    assert Path(get_app_dir()).resolve() == (Path(sys.prefix) / "share/jupyter/lab").resolve()


def test_jupyterlabs_settings_server_reads_news_off_by_default(tmp_path):
    """The settings server, given this environment's directories and an empty user-settings
    directory (a new student), serves fetchNews "false" as the default: no pop-up asks."""
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import get_settings

    app = Path(get_app_dir())
    settings, _ = get_settings(str(app / "settings"), str(app / "schemas"), str(tmp_path),
                               schema_name=NOTIFICATION)
    defaults = {k: v["default"] for k, v in settings["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False


def test_voila_server_extension_is_enabled():
    """JupyterLab serves /voila/render/... only when Voilà's server extension is enabled."""
    out = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"],
                         capture_output=True, text=True, timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(r"voila\.server_extension\s+enabled", text), text
    assert re.search(r"voila\.server_extension\s+OK", text), text


def test_readme_gives_the_local_voila_command():
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/voila lessons/03-the-loop-round-by-round.ipynb" in readme
    assert "/voila/render/lessons/03-the-loop-round-by-round.ipynb" in readme


# ------------------------------------------------------------ the teacher's day (item 9)
TEACHERS = (ROOT / "lessons" / "TEACHERS.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", TEACHERS, re.S | re.M)
    assert match, f"TEACHERS.md has no section {title!r}"
    return match.group(1)


def test_teachers_has_a_one_page_day_of_checklist():
    checklist = section("On the day: a one-page checklist")
    boxes = re.findall(r"^- \[ \] ", checklist, re.M)
    assert 8 <= len(boxes) <= 20 and len(checklist.splitlines()) <= 60  # one page
    for needed in ("lessons/worksheets/", "Download my answers", "python -m marginloops",
                   "Voilà", "Binder", "measured locally"):
        assert needed in checklist, needed


def test_teachers_has_a_plan_for_binder_down_or_slow():
    plan = section("If Binder is down or slow")
    for fallback in (".venv/bin/voila lessons/", "lessons/worksheets/", "python -m marginloops",
                     "the README's first command"):
        assert fallback in plan, fallback
    assert "(#if-binder-is-down-or-slow)" in section("Launching for a class on Binder")


def test_click_timings_say_where_they_were_measured_and_agree():
    """No unsupported Binder figure; README and TEACHERS.md quote the same local medians."""
    readme = (ROOT / "README.md").read_text()
    teachers, flat_readme = " ".join(TEACHERS.split()), " ".join(readme.split())
    assert "1.5-3.5 s" not in teachers and "Binder-sized machine" not in teachers
    assert "Binder was not measured" in teachers and "Binder was not measured" in flat_readme
    assert "measured **locally**" in readme
    lab = dict(re.findall(r"^\| (crowded-longs|lesson 06)[^|]*\| medians (\d+ and \d+) ms",
                          readme, re.M))
    assert lab == {"crowded-longs": "95 and 111", "lesson 06": "136 and 100"}
    # TEACHERS.md rounds the same medians to seconds, and quotes the case's
    assert "about 0.1 s in JupyterLab, under 0.05 s in Voilà" in teachers
    assert "100 and 136 ms in JupyterLab, 37 and 85 ms in Voilà" in teachers
    assert "| medians 37 and 85 ms" in readme
