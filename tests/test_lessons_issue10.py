"""The lessons as a student reads them (issue 10): clean code cells, one story across lessons.

nbval reads its markers either from a comment line in the cell or from the cell's tags
("nbval-check-output", "nbval-ignore-output": nbval 0.11, ``nbval/plugin.py``,
``comment_markers`` and ``metadata_tags``); the lessons use the tags only, so no student reads a
test marker. With ``--nbval-lax`` (pyproject) a cell's output is compared only when it is tagged
``nbval-check-output``, and notebooks are committed with outputs cleared except those cells.
"""

import json
import re
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).parents[1] / "lessons").glob("0*.ipynb"))
MARKER = re.compile(r"^\s*#+\s*(NBVAL_\w+|PYTEST_VALIDATE_\w+)\s*$", re.M)


def _code_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(n, c) for n, c in enumerate(cells) if c["cell_type"] == "code"]


def test_there_are_seven_lessons():
    assert [p.name[:2] for p in LESSONS] == ["00", "01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_no_code_cell_carries_an_nbval_comment(path):
    marked = [n for n, c in _code_cells(path) if MARKER.search("".join(c["source"]))]
    assert not marked, f"{path.name}: cells {marked} show an nbval marker; use the cell's tags"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_committed_outputs_are_exactly_the_checked_cells(path):
    """A stored output that nbval does not compare would be a stale picture of a result."""
    with_output = [n for n, c in _code_cells(path) if c.get("outputs")]
    checked = [n for n, c in _code_cells(path)
               if "nbval-check-output" in c["metadata"].get("tags", ())]
    assert with_output == checked, path.name
    assert checked, f"{path.name} checks no output"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_no_cell_is_both_checked_and_ignored(path):
    both = [n for n, c in _code_cells(path)
            if {"nbval-check-output", "nbval-ignore-output"} <= set(c["metadata"].get("tags", ()))]
    assert not both, f"{path.name}: cells {both}"
