"""The lessons' pictures of their widgets: folded away under the live widget, and not stale.

A reader with a kernel must never meet a picture of a control (it looks clickable); a reader
without one (GitHub, nbviewer) must still get the picture. So each picture sits in a closed
``<details>`` block, labelled "Picture of this explorer, for reading without a kernel", in the
Markdown cell right under the widget's code cell. Inside it the picture is an HTML ``<img>``,
not Markdown, because renderers treat Markdown inside an HTML block differently: GitHub's
notebook view has been reported showing ``<details>`` open with the Markdown inside left raw
(volkamerlab/teachopencadd#189, 2021) and, earlier, not showing the folded content
(recommenders-team/recommenders#754, 2019); GitHub cannot be tested from here. nbconvert's HTML
exporter, which nbviewer runs, keeps the block and its ``<img>`` (tested below). JupyterLab and
Voilà render it closed (``tests/browser/test_pictures_browser.py`` looks). The text version of
each picture (a checked cell's table or narration) stays outside the block, for every reader.

The pictures and their ``.txt`` (the widget's visible text when the picture was taken) are
written by ``tests/browser/make_pictures.py``; the browser test takes them again and compares
the text. The checks here need no browser: where the pictures are, and that every figure the
alt text quotes is one the picture's text shows.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import make_pictures  # noqa: E402
from make_pictures import IMAGES, LESSONS, PICTURES  # noqa: E402

DETAILS = re.compile(
    r"<details>\s*<summary>(?P<summary>[^<]*)</summary>\s*"
    r'<img src="images/(?P<name>[\w-]+)\.png" alt="(?P<alt>[^"]+)">\s*'
    r"<p><em>(?P<caption>.+?)</em></p>\s*</details>", re.S)
#: A figure as the widgets print it: 91.25, 1,512, -8.7%, 4.1M (not a lone digit like "2").
FIGURE = re.compile(r"-?\d{1,3}(?:,\d{3})*(?:\.\d+)?%?(?:[kKM]\b)?")


def cells(lesson: str) -> list[dict]:
    return json.loads((LESSONS / lesson).read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def placements() -> list[tuple[str, int, re.Match]]:
    """(lesson, cell index, match) for every picture block in every lesson."""
    found = []
    for path in sorted(LESSONS.glob("*.ipynb")):
        for index, cell in enumerate(cells(path.name)):
            found += [(path.name, index, m) for m in DETAILS.finditer(source(cell))]
    return found


def test_every_image_of_a_lesson_is_a_folded_picture():
    """No lesson shows an image outside a closed <details> block of the expected form."""
    for path in sorted(LESSONS.glob("*.ipynb")):
        for index, cell in enumerate(cells(path.name)):
            text = source(cell)
            assert "](images/" not in text, f"{path.name} cell {index}: a Markdown image"
            assert text.count("<img") == len(DETAILS.findall(text)), (
                f"{path.name} cell {index}: an <img> that is not in a closed <details> block "
                f"of the form DETAILS expects")
            assert "<details open" not in text, f"{path.name} cell {index}: opened by default"


def test_each_picture_is_right_under_its_widget_with_its_label():
    by_name = {picture.name: picture for picture in PICTURES}
    seen = []
    for lesson, index, match in placements():
        name = match["name"]
        assert name in by_name, f"{lesson}: images/{name}.png is not in make_pictures.PICTURES"
        picture = by_name[name]
        assert picture.lesson == lesson, f"{name} is listed for {picture.lesson}, found in {lesson}"
        assert match["summary"] == picture.summary
        above = cells(lesson)[index - 1]
        assert above["cell_type"] == "code", f"{lesson}: {name} is not right under a code cell"
        seen.append(name)
    assert sorted(seen) == sorted(by_name), "each picture is placed exactly once"


def test_every_picture_has_its_png_and_text_and_nothing_else_is_left():
    expected = {f"{p.name}{ext}" for p in PICTURES for ext in (".png", ".txt")}
    present = {path.name for path in IMAGES.iterdir() if path.suffix in (".png", ".txt")}
    assert present == expected, (
        f"missing: {sorted(expected - present)}; not made by make_pictures.py: "
        f"{sorted(present - expected)}")
    for picture in PICTURES:
        assert picture.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert picture.txt.read_text(encoding="utf-8").strip()


@pytest.mark.parametrize("lesson,index,match", placements(),
                         ids=[m["name"] for _, _, m in placements()])
def test_the_alt_text_quotes_only_figures_the_picture_shows(lesson, index, match):
    """Each figure in the alt text is in the picture's visible text: a stale alt text fails."""
    shown = (IMAGES / f"{match['name']}.txt").read_text(encoding="utf-8")
    shown_figures = set(FIGURE.findall(shown))
    quoted = [figure for figure in FIGURE.findall(match["alt"]) if len(figure) > 1]
    missing = [figure for figure in quoted if figure not in shown_figures]
    assert not missing, (
        f"{lesson} cell {index}: the alt text of images/{match['name']}.png quotes {missing}, "
        f"which its text lessons/images/{match['name']}.txt does not show. Make the alt text "
        "say what the picture shows, or regenerate the picture: "
        f".venv/bin/python tests/browser/make_pictures.py {match['name']}")


def test_stale_message_says_how_to_regenerate():
    message = make_pictures.stale_message("lesson01-margin")
    assert "tests/browser/make_pictures.py lesson01-margin" in message
    assert "lessons/images/lesson01-margin.txt" in message


def test_nbconvert_keeps_the_folded_picture():
    """nbviewer renders with nbconvert's HTML exporter: the block and its <img> survive."""
    nbconvert = pytest.importorskip("nbconvert")
    body, _ = nbconvert.HTMLExporter().from_filename(str(LESSONS / "01-margin-and-leverage.ipynb"))
    folded = re.search(r"<details>\s*<summary>Picture of this widget, for reading without a "
                       r"kernel</summary>\s*<img(?=[^>]*\balt=.The margin widget)"
                       r'(?=[^>]*src="images/lesson01-margin.png")[^>]*>.*?</details>', body, re.S)
    assert folded, "nbconvert did not keep the <details> block with its <img>"


# --- The widgets' own text, without a browser -------------------------------------------------
# Each lesson's code cells are run up to each picture (display() is a no-op, prints are
# swallowed); the value of the cell right above the picture is its widget. The picture's
# actions are done in Python (Button.click(), a number box's or menu's value set), then every
# HTML and Label text the widget shows must be in the picture's .txt (compared without
# whitespace: the browser lays text out in lines). A widget that now says "1.001%" where the
# picture says "1.00%" fails here, in a second, with no browser.

_TAGS = re.compile(r"<style.*?</style>|<[^>]+>", re.S)
_SPACE = re.compile(r"\s+")


def _lesson_widgets(lesson: str) -> dict:
    """{picture name: the widget in the code cell right above it}, for one lesson."""
    import ast
    import contextlib
    import io

    namespace = {"display": lambda *args, **kwargs: None}
    found, last = {}, None
    for cell in cells(lesson):
        text = source(cell)
        if cell["cell_type"] == "markdown":
            for match in DETAILS.finditer(text):
                found[match["name"]] = last
            continue
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(text)
        tail = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(tree, lesson, "exec"), namespace)  # the lesson's own code
            last = eval(compile(ast.Expression(tail.value), lesson, "eval"), namespace) \
                if tail is not None else None
    return found


def _descendants(widget):
    """The widget and every widget it shows (a folded accordion's pages and hidden ones not)."""
    import ipywidgets as widgets

    layout = getattr(widget, "layout", None)
    if layout is not None and (layout.display == "none" or layout.visibility == "hidden"):
        return
    yield widget
    children = getattr(widget, "children", ())
    if isinstance(widget, (widgets.Accordion, widgets.Tab, widgets.Stack)):
        index = widget.selected_index
        children = [] if index is None else [children[index]]
    for child in children:
        yield from _descendants(child)


def _find(widget, kind, description):
    import ipywidgets as widgets

    matches = [w for w in _descendants(widget) if isinstance(w, kind)
               and (getattr(w, "description", "") or "").strip() == description
               and not isinstance(w, widgets.Play)]
    assert matches, f"no {kind} described {description!r}"
    return matches[-1]  # a knob's number box comes after its slider


def _act(widget, action) -> None:
    """A Picture's action done in Python (make_pictures.act does it in the browser)."""
    import ipywidgets as widgets

    kind, target, arg = action
    if kind == "click":
        button = _find(widget, widgets.Button, target)
        for _ in range(arg):
            button.click()
    elif kind == "type":
        boxes = (widgets.FloatText, widgets.BoundedFloatText, widgets.IntText,
                 widgets.BoundedIntText)
        _find(widget, boxes, target).value = float(arg)
    elif kind == "select":
        _find(widget, widgets.Dropdown, target).label = arg


def _shown_texts(widget) -> list[str]:
    import html

    import ipywidgets as widgets

    texts = []
    for w in _descendants(widget):
        if isinstance(w, (widgets.HTML, widgets.HTMLMath, widgets.Label)):
            texts.append(html.unescape(_TAGS.sub("", w.value)))
    return [t for t in texts if t.strip()]


@pytest.mark.parametrize("lesson", sorted({picture.lesson for picture in PICTURES}))
def test_the_widgets_still_show_what_their_pictures_show(lesson):
    found = _lesson_widgets(lesson)
    for picture in (p for p in PICTURES if p.lesson == lesson):
        widget = found[picture.name]
        for action in picture.actions:
            _act(widget, action)
        shown = _SPACE.sub("", picture.txt.read_text(encoding="utf-8"))
        # a picture's mask blanks what changes run to run (a sweep's time) in both texts
        stale = [text for text in _shown_texts(widget)
                 if _SPACE.sub("", picture.masked(text)) not in shown]
        assert not stale, (
            f"{make_pictures.stale_message(picture.name)}\nThe widget now shows, and the "
            "picture does not:\n" + "\n".join(f"    {text.strip()[:300]}" for text in stale))
