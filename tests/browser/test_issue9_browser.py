"""Issue 9's widget fixes seen in a real JupyterLab, in Chromium.

Lesson 4's sandbox takes tiered margin without an error; a compare explorer shows its labels
as text (never as HTML); a knob keeps a valid value whatever is typed into its box, and the
market menu's "custom" is narrated; partial liquidation counts positions closed and positions
partly closed apart, never more closed than there are positions.
"""

import re
from pathlib import Path

import labtools
from labtools import explorers, open_cells, open_notebook, save_screenshot, widget_button

from marginloops import Scenario, compare

TALL = {"width": 1400, "height": 2200}
LESSON04 = Path(__file__).parents[2] / "lessons" / "04-liquidation-clusters.ipynb"
TIERS = "tiered brackets (Binance style)"
# Labels that are HTML if a widget forgets to escape them: bold text, and an image whose
# failed load would run a script.
LABELS = ("depth<b>", "<img src=x onerror=window.__xss=1>")


def wait_until(read, done, what, timeout_s=60.0):
    """labtools' poll, with 60 s by default (this file's waits ran long on a loaded machine)."""
    return labtools.wait_until(read, done, what, timeout_s)


def wait_for_text(locator, needle, timeout_s=60.0):
    """Poll until ``needle`` is in the text of ``locator`` (re-resolved each time: the
    narration's HTML is re-rendered, so element handles go stale); return that text."""
    return wait_until(lambda: locator.text_content() or "", lambda text: needle in text,
                      f"waiting for {needle!r}", timeout_s)


def step_once(explorer):
    """Press Step and wait until the narration changes; return the new narration."""
    story = explorer.locator("div[role='log']")
    before = story.text_content()
    widget_button(explorer, "Step").click()
    return wait_until(story.text_content, lambda text: text != before,
                      "the narration should change after Step")


def chosen(select):
    """The text of the option a ``select`` shows (ipywidgets writes its spaces as no-break
    spaces)."""
    return select.locator("option:checked").text_content().replace("\xa0", " ")


def no_problem_told(text):
    """Whether ``text`` (a narration) holds none of the explorers' problem sentences."""
    return not any(words in text for words in ("could not be done", "cannot be used",
                                                "Traceback", "Error"))


def test_tiered_margin_in_lesson04_sandbox(lab_server, page, page_log):
    """Issue 9 item 16: choosing tiered margin in lesson 4's sandbox (a market of the lesson's
    own, built from clusters) raised inside the widget callback; now the market changes and
    says so, and the sandbox still steps."""
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, LESSON04, assets=(LESSON04.parent / "images",))
    sandbox = explorers(panel).first
    sandbox.scroll_into_view_if_needed()
    story = sandbox.locator("div[role='log']")
    status = sandbox.locator("div[role='status']").first
    wait_for_text(story, "Market: clustered. Press Step to apply the shock.")
    sandbox.get_by_text("Breaking the loop", exact=True).click()
    tiers = sandbox.locator("select").filter(has_text=TIERS)
    tiers.wait_for(state="visible")
    tiers.select_option(label=TIERS)
    text = wait_for_text(story, "Settings changed (maintenance margin: one rate (the "
                                f"maintenance margin knob) → {TIERS}): the run starts again "
                                "from round 0.")
    assert no_problem_told(text), text
    assert chosen(tiers) == TIERS
    wait_for_text(status, "market custom")  # the lesson's market, changed: one name
    wait_for_text(sandbox, "Breaking the loop (on: tiered margin)")
    save_screenshot(sandbox, "issue9-lesson04-tiers-chosen")
    # One Step: the shock, on the tiered market.
    text = step_once(sandbox)
    assert "Round 0 (the shock)" in text and no_problem_told(text), text
    wait_for_text(sandbox.locator(".widget-html", has_text="Round").first, "Round 0")
    wait_for_text(status, "Round 0")
    save_screenshot(sandbox, "issue9-lesson04-tiers-round0")
    assert page_log.errors == []


def test_compare_labels_are_text_not_html(lab_server, page, page_log, tmp_path):
    """Issue 9 item 10: every place a compare explorer shows a label (its title, the charts'
    keys, the status lines, the summary table, the narrations' names) shows it as text."""
    panel = open_cells(lab_server, page, tmp_path,
        "from marginloops import CompareExplorer, Scenario\n"
        "a = Scenario.preset('crowded-longs')\n"
        f"CompareExplorer(a, a.replace(depth_1pct=6_000_000), labels={LABELS!r})",
        name="labels", viewport=TALL)
    widget = explorers(panel).first
    bold, image = LABELS

    def shown_literally(where):
        for label in LABELS:
            assert label in where.text_content(), f"{label!r} not shown as text in {where}"

    title = widget.locator(".widget-html", has_text="Compare:").first
    shown_literally(title)
    assert "(solid line, circles) and" in title.text_content()
    keys = widget.locator(".widget-html").filter(has_text="(dashed line, squares)")
    assert keys.count() >= 3  # the title and the keys under the price and bad-debt charts
    for i in range(keys.count()):
        shown_literally(keys.nth(i))
    bars_key = widget.locator(".widget-html", has_text="left bar:").first
    assert f"left bar: {bold}" in bars_key.text_content()
    assert f"right bar: {image}" in bars_key.text_content()
    summary = widget.locator("table[aria-label='Summary of both runs']")
    shown_literally(summary.locator("tr").first)
    statuses = widget.locator("div[role='status']")
    assert statuses.count() == 2
    for status, label in zip(statuses.all(), LABELS, strict=True):
        assert f" {label}: before the shock" in status.text_content()
    for label in LABELS:  # each narration's accessible name is the label, as text
        assert widget.get_by_role("log", name=f"Narration of {label}", exact=True).count() == 1
    # Nothing the labels spell was made: no image, no bold element holding the words after it.
    assert page.locator("img[src='x']").count() == 0
    assert widget.locator("b b").count() == 0
    save_screenshot(widget, "issue9-compare-labels")
    widget_button(widget, "Step").click()
    wait_until(lambda: [s.text_content() for s in statuses.all()],
               lambda texts: all(": round 0 · " in t for t in texts),
               "both status lines at round 0")
    widget_button(widget, "Run to end").click()
    verdict = widget.locator("p[role='status']")
    wait_until(verdict.count, lambda n: n == 1, "the verdict should appear")
    shown_literally(summary.locator("tr").first)
    for status, label in zip(statuses.all(), LABELS, strict=True):
        assert f" {label}: round " in status.text_content()
    a = Scenario.preset("crowded-longs")
    assert verdict.text_content() == compare(a, a.replace(depth_1pct=6_000_000),
                                             labels=LABELS).verdict()
    assert page.locator("img[src='x']").count() == 0
    assert widget.locator("b b").count() == 0
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    save_screenshot(widget, "issue9-compare-labels-end")
    assert page_log.errors == []


def test_knob_boxes_and_custom_market_in_lab(lab_server, page, page_log, tmp_path):
    """Issue 9 items 8, 9 and 11 as a student meets them: a NaN set from code and letters or an
    out-of-range number typed into a knob's box leave the knob on a valid value and the
    explorer working; a knob's change is narrated with separators; "custom" in the market
    menu is narrated, and a changed preset is called "custom" from the start."""
    panel = open_cells(lab_server, page, tmp_path,
        "from marginloops import CascadeExplorer, Scenario\n"
        "explorer = CascadeExplorer(Scenario.preset('crowded-longs'))\n"
        "explorer",
        "explorer.controls.knobs['shock'].box.value = float('nan')",
        "CascadeExplorer(Scenario.preset('thin-book').replace(shock=0.1))",
        name="knobs", viewport=TALL)
    explorer = explorers(panel).first
    story = explorer.locator("div[role='log']")
    status = explorer.locator("div[role='status']").first
    shock = explorer.get_by_role("spinbutton", name="Shock size (%)", exact=True)
    # The NaN set from code (the notebook's second cell): refused at the knob, in a sentence.
    wait_for_text(story, "Shock size (%): nan is not a number this knob can take, so it stays "
                         "at 3.")
    assert shock.input_value() == "3"
    # Letters typed into the box: the box keeps 3 and nothing changes.
    shock.click()
    shock.press("Control+A")
    shock.press_sequentially("abc")
    shock.press("Enter")
    shock.press("Tab")
    wait_until(shock.input_value, lambda v: v == "3", "the shock box after typing abc")
    assert "Settings changed" not in story.text_content()
    # A number far out of range: the knob takes its largest value, and says so.
    shock.fill("1e9")
    shock.press("Enter")
    text = wait_for_text(story, "Settings changed (Shock size (%) 3 → 90): the run starts "
                                "again from round 0.")
    # the box shows the knob's largest value (ipywidgets clamps to the widget's bounds)
    wait_until(shock.input_value, lambda v: v == "90", "the shock box after typing 1e9")
    assert no_problem_told(text), text
    save_screenshot(explorer, "issue9-knob-out-of-range")
    text = step_once(explorer)
    assert "Round 0 (the shock)" in text and no_problem_told(text), text
    # Positions: 12345 typed (the knob may round it to its step of 100), narrated with its
    # thousands separator (not 1.234e+04), the same number the box shows.
    positions = explorer.get_by_role("spinbutton", name="Positions", exact=True)
    positions.fill("12345")
    positions.press("Enter")
    text = wait_for_text(story, "Settings changed (Positions 2,000 → ")
    said = re.search(r"Positions 2,000 → (\d{1,3}(?:,\d{3})+)\)", text)
    assert said and "e+" not in text, text
    kept = int(said.group(1).replace(",", ""))
    assert abs(kept - 12345) <= 50, text
    wait_until(positions.input_value, lambda v: v == str(kept), "the Positions box")
    text = step_once(explorer)
    assert "Round 0 (the shock)" in text and no_problem_told(text), text
    # The market menu: a preset, then "custom" (the preset's settings kept, as one's own).
    menu = explorer.locator("select").first
    menu.select_option(label="preset: thin-book")
    wait_for_text(story, "Settings changed (market set to the preset thin-book)")
    wait_for_text(status, "market thin-book")
    menu.select_option(label="custom")
    text = wait_for_text(story, "Settings changed (market set to custom: your current "
                                "settings): the run starts again from round 0.")
    assert no_problem_told(text), text
    wait_for_text(status, "market custom")
    assert chosen(menu) == "custom"
    text = step_once(explorer)
    assert "Round 0 (the shock)" in text, text
    save_screenshot(explorer, "issue9-custom-market")
    # A preset changed in code is "custom" in the menu and the narration alike.
    changed = explorers(panel).nth(1)
    wait_for_text(changed.locator("div[role='log']"), "Market: custom. Press Step")
    assert chosen(changed.locator("select").first) == "custom"
    wait_for_text(changed.locator("div[role='status']").first, "market custom")
    assert page_log.errors == []


def test_partial_liquidation_counts_positions_in_lab(lab_server, page, page_log, tmp_path):
    """Issue 9 item 12: with partial liquidation the status line counts positions closed and
    positions partly closed apart; crowded-longs has 1,600 longs, and no more are closed."""
    source = "Scenario.preset('crowded-longs').replace(partial='fraction')"
    scenario = eval(source, {"Scenario": Scenario})
    longs = round(scenario.n_positions * scenario.long_share)
    assert longs == 1600
    history = scenario.cascade().run()
    panel = open_cells(lab_server, page, tmp_path,
        "from marginloops import CascadeExplorer, Scenario\n"
        f"CascadeExplorer({source})", name="partial", viewport=TALL)
    explorer = explorers(panel).first
    status = explorer.locator("div[role='status']").first
    story = explorer.locator("div[role='log']")
    counts = re.compile(r"liquidated so far: ([\d,]+) positions? closed(?:, ([\d,]+) more "
                        r"partly closed and still open)?")

    def counted(text):
        match = counts.search(text)
        assert match, f"no position count in the status line: {text!r}"
        closed, partly = (int((g or "0").replace(",", "")) for g in match.groups())
        assert closed + partly <= longs, text  # distinct positions of a market of 1,600 longs
        return closed, partly

    for round_no in range(3):
        step_once(explorer)
        wait_for_text(status, f"Round {round_no}")
    closed_2, partly_2 = counted(status.text_content())
    assert partly_2 > 0  # slices taken, positions still open: shown apart from the closed
    widget_button(explorer, "Run to end").click()
    text = wait_for_text(story, "The cascade stopped")
    wait_for_text(explorer.locator(".widget-html", has_text="Round").first, "(end)")
    line = wait_for_text(status, f"Round {history[-1].round}")
    closed, partly = counted(line)
    # The model's own counts, run here: whole closes summed, partly closed ones still open.
    assert closed == sum(r.n_closed for r in history) and closed >= closed_2
    assert partly == history[-1].n_reduced_open
    assert sum(r.n_liquidated for r in history) > closed + partly  # what the old count summed
    assert closed <= longs and partly > 0
    assert f"{closed:,} positions were closed and {partly:,} more were only reduced" in text
    save_screenshot(explorer, "issue9-partial-end")
    assert page_log.errors == []
