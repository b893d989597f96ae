"""Accessibility in a real browser: an axe-core audit of every lesson as a Voilà app and of the
explorers in JupyterLab, keyboard operation with a visible focus ring, and projector mode.

axe-core (MPL-2.0) comes bundled in the PyPI package ``axe-playwright-python`` (the ``test``
extra), so no network is needed. A violation fails a test unless the allow-list below names
its rule and where it is, with the reason it is not ours to fix.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pytest
from labtools import (
    explorers,
    open_notebook,
    open_voila,
    save_screenshot,
    wait_until,
    write_notebook,
)

LESSONS = sorted((Path(__file__).parents[2] / "lessons").glob("*.ipynb"))
TALL = {"width": 1400, "height": 2200}
#: The rules run: WCAG 2.0, 2.1 and 2.2, levels A and AA.
AXE_OPTIONS = {"runOnly": {"type": "tag",
                           "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
               "resultTypes": ["violations"]}

#: Violations that are not in our widgets' HTML: (rule id, regex searched in the node's CSS
#: target and its HTML, reason). Anything else fails.
ALLOWED = [
    # ipywidgets 8's sliders draw their handle (a noUiSlider div with role="slider") without an
    # aria-label and without linking it to the slider's description <label>; no Python trait
    # reaches it. Every slider of ours is paired with a number box carrying the same label
    # (Knob, and Speed beside its box), the keyboard-and-screen-reader way to set the value.
    ("aria-input-field-name", r"noUi-handle",
     "ipywidgets slider handle has no accessible name (its labelled number box beside it has)"),
    # JupyterLab's Markdown theme (which Voilà uses) draws links in dark blue without an
    # underline; axe wants 3:1 against the body text or an underline. The lessons' prose is
    # Markdown rendered by that theme: nothing of ours styles it.
    ("link-in-text-block", r"<a ",
     "JupyterLab/Voilà theme: links in Markdown prose are not underlined"),
]


def axe_source() -> str:
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


#: Left out of every audit: bqplot's SVG drawings (thousands of nodes, which make axe ten times
#: slower; axe's contrast rule skips SVG text anyway). Each chart's text alternative (its
#: caption and the narration) is HTML and is audited.
EXCLUDE = [[".bqplot svg"]]


def run_axe(page, include=None, exclude=()) -> list[dict]:
    """axe's violations on ``page``, within ``include`` (CSS selectors; the page if None)
    less ``exclude`` and :data:`EXCLUDE`."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    context = {"exclude": EXCLUDE + [[sel] for sel in exclude]}
    if include:
        context["include"] = [[sel] for sel in include]
    result = page.evaluate("([context, options]) => axe.run(context, options)",
                           [context, AXE_OPTIONS])
    return result["violations"]


def split_allowed(violations):
    """(allowed, new): each a list of (rule id, impact, target, reason or the failure summary)."""
    allowed, new = [], []
    for v in violations:
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            reason = next((why for rule, where, why in ALLOWED if rule == v["id"]
                           and re.search(where, f"{target} {node.get('html', '')}")), None)
            row = (v["id"], v["impact"], target,
                   reason or (node.get("failureSummary") or "").replace("\n", " "))
            (allowed if reason else new).append(row)
    return allowed, new


def summarise(label, violations) -> str:
    """One line per rule: id, impact, how many nodes; then the new (not allowed) nodes."""
    allowed, new = split_allowed(violations)
    counts = Counter((rule, impact) for rule, impact, _, _ in allowed + new)
    lines = [f"axe {label}: {sum(counts.values())} node(s) in {len(counts)} rule(s); "
             f"{len(new)} not allowed"]
    lines += [f"  {rule} ({impact}): {n}" for (rule, impact), n in sorted(counts.items())]
    lines += [f"  NEW {rule} ({impact}) at {target}: {why[:300]}"
              for rule, impact, target, why in new]
    return "\n".join(lines)


def audit(page, label, include=None, exclude=(), *, enforce=True):
    """Run axe, print the summary, and (``enforce``) fail on any violation not allowed."""
    start = time.perf_counter()
    violations = run_axe(page, include, exclude)
    print(summarise(label, violations) + f"\n  ({time.perf_counter() - start:.1f} s)")
    if enforce:
        _, new = split_allowed(violations)
        assert not new, summarise(label, violations)
    return violations


# ------------------------------------------------------------------------------ lessons
@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_is_a_clean_accessible_app_in_voila(voila_server, page, page_log, lesson):
    page.set_viewport_size(TALL)
    images = lesson.parent / "images"
    cells = open_voila(voila_server, page, lesson, assets=(images,) if images.is_dir() else ())
    # An app: no code shown, live widgets.
    # (Voilà keeps markdown cells in a .jp-InputArea: only code cells' inputs and editors count.)
    code = page.locator(".jp-CodeCell .jp-InputArea, .jp-InputArea-editor, .jp-CodeMirrorEditor, "
                        ".cm-editor, .CodeMirror")
    assert not [i for i in range(code.count()) if code.nth(i).is_visible()], "code is shown"
    buttons = cells.locator("button.widget-button")
    assert buttons.count() >= 1 and buttons.first.is_visible()
    assert cells.locator(".bqplot").count() >= 1
    audit(page, f"voila {lesson.stem}")
    # Live: the first explorer's Step plays the shock (its counter leaves "Round –").
    explorer = cells.locator(".jp-OutputArea-output").filter(
        has=page.locator("button.widget-button", has_text=re.compile(r"^\s*Step\s*$"))).first
    counter = explorer.locator(".widget-html", has_text=re.compile(r"^\s*Round")).first
    explorer.locator("button.widget-button", has_text=re.compile(r"^\s*Step\s*$")).click()
    _wait_text(counter, "Round 0")
    save_screenshot(page, f"a11y-voila-{lesson.stem}")
    assert page_log.errors == []


# ----------------------------------------------------------------------- the explorers
@pytest.fixture
def explorers_notebook(tmp_path):
    return write_notebook(
        tmp_path / "explorers.ipynb",
        "from marginloops import CascadeExplorer, CompareExplorer, Scenario\n"
        "s = Scenario.preset('crowded-longs')\n"
        "explorer = CascadeExplorer(s)\n"
        "explorer",
        "CompareExplorer(s, s.replace(depth_1pct=6_000_000), labels=('thin', 'deep'))")


#: The element that has keyboard focus: its tag, text, and computed outline.
_FOCUSED_JS = """
() => {
  const el = document.activeElement;
  if (!el) return null;
  const css = getComputedStyle(el);
  return {tag: el.tagName, text: (el.textContent || '').trim(), cls: el.className,
          label: el.getAttribute('aria-label') || el.getAttribute('title') || '',
          outlineStyle: css.outlineStyle, outlineWidth: parseFloat(css.outlineWidth),
          outlineColor: css.outlineColor,
          inside: !!el.closest('.marginloops'), id: el.dataset.mlTab || ''};
}
"""

#: Marks each control of the first explorer that a keyboard user must reach; returns them.
_CONTROLS_JS = """
(root) => {
  const sel = 'button, input, select, textarea, [tabindex]:not([tabindex="-1"]), ' +
              '.noUi-handle, .jupyter-widget-Collapse-header';
  const visible = el => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden';
  const all = Array.from(root.querySelectorAll(sel)).filter(el => visible(el) && !el.disabled);
  all.forEach((el, i) => { el.dataset.mlTab = String(i); });
  return all.map(el => `${el.tagName}.${el.className}: ${(el.textContent || '').trim()}`
                       .slice(0, 80));
}
"""


def projector_button(scope):
    return scope.locator("button.widget-toggle-button", has_text="Projector mode")


def focused(page):
    return page.evaluate(_FOCUSED_JS)


def stroke_width(path_locator) -> float:
    return float(path_locator.evaluate("p => parseFloat(getComputedStyle(p).strokeWidth)"))


def test_explorers_are_accessible_keyboard_operable_and_projectable_in_lab(
        lab_server, page, page_log, explorers_notebook):
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, explorers_notebook)
    outputs = explorers(panel)
    assert outputs.count() == 2
    explorer, compare = outputs.nth(0), outputs.nth(1)

    # (b) axe on our widgets only; JupyterLab's own chrome is recorded, not judged.
    audit(page, "lab explorers (widget outputs)", [".jp-OutputArea-output"])
    audit(page, "lab chrome (JupyterLab itself, outputs left out; not enforced)",
          exclude=[".jp-OutputArea-output"], enforce=False)

    # (c) keyboard: the "Breaking the loop" panel opens with Enter; then every control is
    # reached by Tab, each with a visible focus ring.
    panel_button = explorer.locator("button.widget-button", has_text="Breaking the loop")
    panel_button.focus()
    page.keyboard.press("Enter")
    explorer.get_by_role("checkbox", name="circuit breaker").wait_for(state="visible")
    controls = explorer.evaluate(_CONTROLS_JS)
    assert len(controls) > 40, controls
    explorer.locator("[data-ml-tab='0']").focus()
    reached, rings = set(), []
    for _ in range(len(controls) + 10):
        now = focused(page)
        if not now["inside"]:
            break
        if now["id"]:
            reached.add(int(now["id"]))
            rings.append((now["text"][:30] or now["label"][:30] or now["cls"][:30],
                          now["outlineStyle"], now["outlineWidth"]))
        page.keyboard.press("Tab")
    explorer.evaluate("root => root.querySelectorAll('[data-ml-tab]')"
                      ".forEach(el => el.removeAttribute('data-ml-tab'))")
    missed = [c for i, c in enumerate(controls) if i not in reached]
    print(f"keyboard: {len(reached)} of {len(controls)} controls reached by Tab")
    assert not missed, f"not reachable by Tab: {missed}"
    print("focus rings:", sorted(set(rings)))
    faint = [r for r in rings if r[1] == "none" or not r[2] > 0]
    assert not faint, f"focused without a visible outline: {faint}"

    # Step by keyboard: Shift+Tab from Play lands on Step; Enter and Space each play a round.
    counter = explorer.locator(".widget-html", has_text=re.compile(r"^\s*Round")).first
    assert counter.text_content().strip() == "Round –"
    explorer.get_by_role("button", name=re.compile(r"\bPlay$")).focus()
    page.keyboard.press("Shift+Tab")
    now = focused(page)
    assert now["tag"] == "BUTTON" and now["text"] == "Step", now
    assert now["outlineStyle"] != "none" and now["outlineWidth"] > 0, now
    print(f"Step focused: outline {now['outlineWidth']}px {now['outlineStyle']} "
          f"{now['outlineColor']}")
    save_screenshot(explorer.locator("button.widget-button", has_text="Step").locator(".."),
                    "a11y-lab-step-focused")
    page.keyboard.press("Enter")
    _wait_text(counter, "Round 0")
    page.keyboard.press("Space")
    _wait_text(counter, "Round 1")
    assert focused(page)["text"] == "Step"  # focus stays for the next press

    # (d) projector mode: lines get thicker in the browser, text bigger; and back.
    line = explorer.locator(".bqplot").filter(has_text="Price by round").first.locator(
        "svg.svg-figure g.curve path.line").nth(1)  # [0] is the grey start line
    compare_line = compare.locator(".bqplot").filter(has_text="Price by round").first.locator(
        "svg.svg-figure g.curve path.line").nth(2)  # [0], [1]: both runs' start lines
    compare.locator("button.widget-button", has_text=re.compile(r"^\s*Step\s*$")).click()
    compare_line.wait_for(state="attached")  # a run's line is drawn once it has a point
    before, compare_before = stroke_width(line), stroke_width(compare_line)
    for scope in (explorer, compare):
        projector_button(scope).click()
    after = _wait_value(lambda: stroke_width(line), lambda w: w > before)
    compare_after = _wait_value(lambda: stroke_width(compare_line),
                                lambda w: w > compare_before)
    print(f"projector: price line stroke {before} -> {after} px; compare {compare_before} -> "
          f"{compare_after} px")
    save_screenshot(explorer, "a11y-lab-projector-explorer")
    save_screenshot(compare, "a11y-lab-projector-compare")
    audit(page, "lab explorers in projector mode", [".jp-OutputArea-output"])
    projector_button(explorer).click()
    assert _wait_value(lambda: stroke_width(line), lambda w: w < after) == before
    assert page_log.errors == []


def _wait_text(locator, needle, timeout_s=30.0):
    return _wait_value(lambda: locator.text_content(), lambda t: needle in (t or ""), timeout_s)


def _wait_value(read, done, timeout_s=30.0):
    return wait_until(read, done, "waiting", timeout_s)
