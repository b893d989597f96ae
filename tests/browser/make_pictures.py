"""The lessons' pictures of their widgets, taken from the live widgets in a real browser.

A reader without a kernel (GitHub, nbviewer) sees each lesson's widgets only as a picture, folded
under the live widget in a closed ``<details>`` block (see ``PICTURES`` and
``tests/test_pictures.py``). So that a picture can never show what the code no longer shows,
this module drives each lesson's widgets in headless Chromium (the lesson rendered by Voilà),
and writes ``lessons/images/<name>.png`` and, beside it, ``<name>.txt``: the widget's visible
text (its ``innerText``) at that moment. ``tests/browser/test_pictures_browser.py`` takes the
same pictures again and fails when the visible text differs from the ``.txt``.

Regenerate every picture (about two minutes; needs /usr/bin/chromium)::

    .venv/bin/python tests/browser/make_pictures.py            # all pictures
    .venv/bin/python tests/browser/make_pictures.py lesson01-margin   # some of them

Which widget a picture shows is found from the lesson itself: the picture's ``<img>`` sits in
the Markdown cell right after the code cell whose output is the widget.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # run as a script, or imported by the browser test
    sys.path.insert(0, str(HERE))

import labtools  # noqa: E402

ROOT = HERE.parents[1]
LESSONS = ROOT / "lessons"
IMAGES = LESSONS / "images"
#: The page size the pictures are taken at: the widget is about 970 pixels wide, as in Lab.
VIEWPORT = {"width": 1000, "height": 1600}
#: How long the widget's text must stay unchanged after an action before the picture is taken.
SETTLE_S = 0.6


@dataclass(frozen=True)
class Picture:
    """One picture of a lesson widget: where it is, what is done to the widget first.

    ``actions``: ``("click", button, times)``, ``("type", label, text)`` (into the number box
    of the slider labelled ``label``, then Enter) or ``("select", label, option)`` (the
    option of the menu labelled ``label``).
    ``summary``: the label of the closed ``<details>`` block that holds the picture.
    ``mask``: regular expressions for text that differs from run to run (a sweep's time); each
    match is replaced by "…" in the text kept and compared (:meth:`masked`).
    """

    name: str
    lesson: str
    actions: tuple = ()
    summary: str = "Picture of this explorer, for reading without a kernel"
    mask: tuple = ()

    def masked(self, text: str) -> str:
        """``text`` with every match of :attr:`mask` replaced by "…"."""
        for pattern in self.mask:
            text = re.sub(pattern, "…", text)
        return text

    @property
    def png(self) -> Path:
        return IMAGES / f"{self.name}.png"

    @property
    def txt(self) -> Path:
        return IMAGES / f"{self.name}.txt"


STEP_6 = (("click", "Step", 6),)
PICTURES = (
    Picture("lesson00-explorer", "00-start-here.ipynb", STEP_6),
    # The README's picture too: the full explorer on crowded-longs after rounds 0, 1 and 2.
    Picture("explorer", "00-start-here.ipynb",
            (("select", "Market", "preset: crowded-longs"), ("click", "Step", 3))),
    Picture("lesson01-margin", "01-margin-and-leverage.ipynb",
            (("type", "Mark price (USD)", "92"),),
            summary="Picture of this widget, for reading without a kernel"),
    Picture("lesson02-bookwalk", "02-order-books-and-slippage.ipynb",
            summary="Picture of this widget, for reading without a kernel"),
    Picture("lesson02-pool", "02-order-books-and-slippage.ipynb", (("click", "Sell", 2),),
            summary="Picture of this widget, for reading without a kernel"),
    Picture("lesson03-explorer", "03-the-loop-round-by-round.ipynb", STEP_6),
    Picture("lesson03-sandbox", "03-the-loop-round-by-round.ipynb", (("click", "Step", 3),)),
    Picture("lesson04-critical", "04-liquidation-clusters.ipynb",
            summary="Picture of this chart, for reading without a kernel"),
    Picture("lesson04-sandbox", "04-liquidation-clusters.ipynb", STEP_6),
    # The phase diagram after one sweep; its status line's time varies from run to run.
    Picture("lesson04-phase", "04-liquidation-clusters.ipynb", (("click", "Sweep", 1),),
            summary="Picture of this widget, for reading without a kernel",
            mask=(r"(?<=markets in )\d[\d,]*(?:\.\d+)?(?= s\.)",)),
    Picture("lesson05-compare", "05-breaking-the-loop.ipynb", STEP_6),
    Picture("lesson05-sandbox", "05-breaking-the-loop.ipynb", (("click", "Step", 3),)),
    Picture("lesson06-case", "06-case-studies.ipynb", STEP_6),
    Picture("lesson07-compare", "07-how-exchanges-liquidate.ipynb", STEP_6),
    Picture("lesson08-explorer", "08-defi-lending.ipynb", STEP_6),
    Picture("lesson08-case", "08-defi-lending.ipynb", STEP_6),
)

# Marks the output of the code cell right before the Markdown cell that holds the picture
# (data-picture=<name>) and returns how many it marked; Voilà and Lab both render cells as
# .jp-Cell in notebook order.
_MARK_WIDGET_JS = """
([src, name]) => {
  const cells = Array.from(document.querySelectorAll('.jp-Cell'));
  const at = cells.findIndex(c => c.querySelector(`img[src$="${src}"]`));
  if (at < 1) return 0;
  const outputs = Array.from(cells[at - 1].querySelectorAll('.jp-OutputArea-output'))
    .filter(o => o.querySelector('.jupyter-widgets'));
  if (outputs.length !== 1) return outputs.length;
  outputs[0].setAttribute('data-picture', name);
  return 1;
}
"""

# Marks the input (or select) of the control labelled ``label`` inside ``root``.
_MARK_CONTROL_JS = """
(root, [label, what]) => {
  const find = what === 'select' ? ['.widget-dropdown', 'select']
                                  : ['.widget-hbox', '.widget-text input'];
  const controls = new Set(Array.from(root.querySelectorAll('label'))
    .filter(l => l.textContent.trim() === label)
    .map(l => l.closest(find[0]))
    .map(box => box && box.querySelector(find[1]))
    .filter(control => control));
  if (controls.size !== 1) return controls.size;
  controls.values().next().value.setAttribute('data-picture-control', '1');
  return 1;
}
"""


# The visible text of an element, line by line as laid out: every rendered text node (HTML and
# SVG) of a visible element, the value of each text or number box, the chosen option of each
# menu, [x] or [ ] for a checkbox. Pieces that start on the line where the previous one ends are
# joined with a space; a paragraph that wraps stays one line. Elements hidden by CSS, or at most
# one pixel in size (screen-reader-only labels), are left out.
_VISIBLE_TEXT_JS = """
(root) => {
  const pieces = [];
  const shown = el => {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1;
  };
  const add = (text, rects) => {
    text = text.replace(/\\s+/g, ' ').trim();
    if (!text || !rects.length) return;
    pieces.push({text, first: rects[0], last: rects[rects.length - 1]});
  };
  const walk = node => {
    if (node.nodeType === Node.TEXT_NODE) {
      const range = document.createRange();
      range.selectNodeContents(node);
      add(node.textContent, Array.from(range.getClientRects()).filter(r => r.width > 0));
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE || !shown(node)) return;
    const tag = node.tagName.toLowerCase();
    const rects = [node.getBoundingClientRect()];
    if (tag === 'select') {
      return add(node.selectedOptions.length ? node.selectedOptions[0].text : '', rects);
    }
    if (tag === 'textarea') return add(node.value, rects);
    if (tag === 'input') {
      if (node.type === 'checkbox') return add(node.checked ? '[x]' : '[ ]', rects);
      if (node.type !== 'hidden' && node.type !== 'range') add(node.value, rects);
      return;
    }
    if (tag === 'style' || tag === 'script') return;
    node.childNodes.forEach(walk);
  };
  walk(root);
  const lines = [];
  let previous = null;
  for (const piece of pieces) {
    const sameLine = previous && Math.abs(piece.first.top - previous.last.top) < 4
      && piece.first.left >= previous.last.left;
    if (sameLine) lines[lines.length - 1] += ' ' + piece.text;
    else lines.push(piece.text);
    previous = piece;
  }
  return lines.join('\\n');
}
"""


def visible_text(widget) -> str:
    """The widget's visible text (see _VISIBLE_TEXT_JS), one laid-out line per line."""
    text = widget.evaluate(_VISIBLE_TEXT_JS).replace("\u00a0", " ")
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip()) + "\n"


def settle(widget, before: str | None, timeout_s: float = 30.0) -> str:
    """Wait until the widget's text differs from ``before`` (if given) and then stays unchanged
    for SETTLE_S seconds; return that text."""
    deadline = time.monotonic() + timeout_s
    text = visible_text(widget)
    while before is not None and text == before:
        if time.monotonic() > deadline:
            raise AssertionError(f"the widget's text did not change within {timeout_s:g} s")
        time.sleep(0.05)
        text = visible_text(widget)
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < SETTLE_S:
        time.sleep(0.1)
        now = visible_text(widget)
        if now != text:
            text, stable_since = now, time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"the widget's text kept changing for {timeout_s:g} s")
    return text


def _control(widget, label: str, what: str):
    count = widget.evaluate(_MARK_CONTROL_JS, [label, what])
    if count != 1:
        raise AssertionError(f"expected one control labelled {label!r}, found {count}")
    control = widget.locator("[data-picture-control]")
    return control


def act(widget, action: tuple) -> None:
    """Do one of a Picture's ``actions`` to ``widget``, waiting for the widget to redraw."""
    kind, target, arg = action
    if kind == "click":
        for _ in range(arg):
            before = visible_text(widget)
            labtools.click_button(widget, target)
            settle(widget, before)
    elif kind in ("type", "select"):
        before = visible_text(widget)
        control = _control(widget, target, kind)
        if kind == "type":
            control.fill(arg)
            control.press("Enter")
            control.blur()  # no focus ring in the picture
        else:
            control.select_option(label=arg)
        control.evaluate("c => c.removeAttribute('data-picture-control')")
        settle(widget, before)
    else:
        raise ValueError(f"action must be click, type or select, got {kind!r}")


def take(page, picture: Picture, out_dir: Path | None) -> str:
    """Do ``picture``'s actions to its widget on the open lesson ``page`` and return the
    widget's visible text; with ``out_dir``, also save ``<name>.png`` and ``<name>.txt`` there."""
    count = page.evaluate(_MARK_WIDGET_JS, [f"images/{picture.name}.png", picture.name])
    if count != 1:
        raise AssertionError(
            f"{picture.lesson}: expected one widget output in the code cell right before the "
            f"Markdown cell with images/{picture.name}.png, found {count}")
    widget = page.locator(f"[data-picture='{picture.name}']")
    widget.scroll_into_view_if_needed()
    settle(widget, None)
    for action in picture.actions:
        act(widget, action)
    text = picture.masked(settle(widget, None))
    if out_dir is not None:
        widget.screenshot(path=out_dir / f"{picture.name}.png")
        (out_dir / f"{picture.name}.txt").write_text(text, encoding="utf-8")
    return text


def take_all(voila_server, browser, pictures=PICTURES, out_dir: Path | None = None,
             before=None) -> dict:
    """Take ``pictures`` (each lesson rendered once by Voilà); return {name: visible text}.

    ``before(page, lesson)``, if given, is called once a lesson is rendered, before any widget
    is touched. Raises AssertionError if a page reports an error.
    """
    texts = {}
    by_lesson: dict[str, list[Picture]] = {}
    for picture in pictures:
        by_lesson.setdefault(picture.lesson, []).append(picture)
    for lesson, group in by_lesson.items():
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(labtools.TIMEOUT_MS)
        page = context.new_page()
        log = labtools.PageLog()
        log.watch(page)
        try:
            labtools.open_voila(voila_server, page, LESSONS / lesson, assets=(IMAGES,))
            if before is not None:
                before(page, lesson)
            for picture in group:
                texts[picture.name] = take(page, picture, out_dir)
            if log.page_errors:
                raise AssertionError(f"{lesson}: errors on the page: {log.page_errors}")
        finally:
            context.close()
    return texts


def stale_message(name: str) -> str:
    """What to do when a picture's text no longer matches the widget."""
    return (f"lessons/images/{name}.png no longer shows what the widget shows (its text "
            f"lessons/images/{name}.txt differs). Regenerate it, look at it, and commit both:\n"
            f"    .venv/bin/python tests/browser/make_pictures.py {name}\n"
            "then check that the picture's alt text in the lesson still says what it shows.")


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    names = set(argv)
    unknown = names - {p.name for p in PICTURES}
    if unknown:
        print(f"unknown picture(s): {sorted(unknown)}; known: {[p.name for p in PICTURES]}")
        return 2
    chosen = [p for p in PICTURES if not names or p.name in names]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        server = labtools.start_voila(Path(scratch))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=labtools.CHROMIUM, headless=True, args=labtools.CHROMIUM_ARGS)
                texts = take_all(server, browser, chosen, IMAGES)
                browser.close()
        finally:
            server.stop()
    for picture in chosen:
        print(f"wrote {picture.png.relative_to(ROOT)} and {picture.txt.name} "
              f"({len(texts[picture.name].splitlines())} lines of text)")
    print(f"{len(chosen)} pictures in {time.monotonic() - started:.0f} s: look at each one")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


