"""Issue 12 in a real JupyterLab: the binance-style preset picked from the explorer's market
menu shows its index rows in the panel, steps to the end, and the price chart draws the mark,
the index and the wick (one Lab page)."""

import time

from labtools import explorers, open_cells, save_screenshot, wait_until, widget_button
from playwright.sync_api import expect

TALL = {"width": 1400, "height": 2300}
BLUE, PURPLE, GREEN = "rgb(0, 114, 178)", "rgb(204, 121, 167)", "rgb(0, 158, 115)"


def _lines(figure, colour):
    return figure.locator("svg.svg-figure g.curve path.line").evaluate_all(
        f"paths => paths.filter(p => getComputedStyle(p).stroke === '{colour}')"
        ".map(p => p.getAttribute('d') || '')")


def test_binance_style_preset_shows_index_rows_mark_index_and_wick(lab_server, page, page_log,
                                                                   tmp_path):
    panel = open_cells(lab_server, page, tmp_path,
                       "from marginloops import CascadeExplorer\nex = CascadeExplorer()\nex",
                       name="issue12", viewport=TALL)
    explorer = explorers(panel).first
    story = explorer.locator("div[role='log']").first
    explorer.locator("select").first.select_option(label="preset: binance-style")
    wait_until(lambda: story.text_content() or "",
               lambda t: "market set to the preset binance-style" in t, "the market menu")
    # the panel, opened: the index venues menu and the rows under it
    explorer.locator("button.widget-button", has_text="Breaking the loop").first.click()
    for label in ("Index venues", "Margins checked on", "Arbitrage (%)", "Mark price rule",
                  "Mark update (rounds)", "Basis average (rounds)",
                  "Chasers (% of OI)"):
        # waits for the click to open the panel (on a loaded machine it takes a moment)
        expect(explorer.get_by_text(label, exact=True).first).to_be_visible()
    chosen = explorer.locator("select").evaluate_all(
        "ss => ss.map(s => s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text)")
    assert "Binance-style index" in [t.replace("\xa0", " ") for t in chosen], chosen
    # step to the end
    step = widget_button(explorer, "Step")
    for _ in range(40):
        if step.is_disabled():
            break
        before = story.text_content() or ""
        step.click()
        wait_until(lambda: story.text_content() or "", lambda t, b=before: t != b,
                   "the narration after Step")
    text = wait_until(lambda: story.text_content() or "",
                      lambda t: "The cascade stopped" in t, "the run's end")
    assert "arbitrage lifted it" in text or "Arbitrageurs bought" in text
    figure = explorer.locator(".bqplot").filter(has_text="Price by round").first
    price, mark, index = (_lines(figure, c) for c in (BLUE, PURPLE, GREEN))
    assert all(d and "NaN" not in d for d in (*price, *mark, *index)), (price, mark, index)
    # the wick's lows: hollow blue triangles on the chart, keyed
    wicks = figure.locator("svg.svg-figure path.dot").evaluate_all(
        f"ds => ds.filter(d => getComputedStyle(d).stroke === '{BLUE}').length")
    assert wicks >= 1
    caption = explorer.text_content() or ""
    assert "the wick: the round's lowest trade" in caption
    assert "mark price: the price margins are checked at" in caption
    time.sleep(0.5)
    save_screenshot(explorer, "explorer-lab-binance-style-wick")
    assert page_log.errors == []
