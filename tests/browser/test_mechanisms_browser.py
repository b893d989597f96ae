"""The "Breaking the loop" panel in a real JupyterLab, in Chromium: open it, switch on the
circuit breaker, step into a halt."""

import re
import time

import pytest
from labtools import open_notebook, save_screenshot, widget_button, write_notebook

TALL = {"width": 1400, "height": 2200}


@pytest.fixture
def explorer_notebook(tmp_path):
    path = write_notebook(tmp_path / "mechanisms.ipynb",
        "from marginloops import CascadeExplorer, Scenario\n"
        "CascadeExplorer(Scenario.preset('crowded-longs'))")
    return path


def first_explorer(scope):
    """The first CascadeExplorer in ``scope``: the widget output that holds a Step button."""
    return scope.locator(".jp-OutputArea-output").filter(
        has=scope.page.locator("button.widget-button", has_text="Step")).first


def wait_for_text(locator, needle, timeout_s=30.0):
    """Poll until ``needle`` appears in the text of ``locator`` (re-resolved each time: the
    narration's HTML is re-rendered, so element handles go stale)."""
    deadline = time.monotonic() + timeout_s
    while needle not in (text := locator.text_content() or ""):
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} did not appear within {timeout_s:g} s; "
                                 f"text: {text!r}")
        time.sleep(0.02)
    return text


def test_circuit_breaker_from_the_panel_halts_trading_in_lab(lab_server, page, page_log,
                                                             explorer_notebook):
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, explorer_notebook)
    explorer = first_explorer(panel)
    story = explorer.locator("div[role='log']")
    status = explorer.locator("div[role='status']").first
    breaker = explorer.get_by_role("checkbox", name="circuit breaker", exact=True)
    # The panel starts closed: its controls are not on screen until it is opened.
    assert not breaker.is_visible()
    explorer.get_by_text("Breaking the loop", exact=True).click()
    breaker.wait_for(state="visible")
    move = explorer.get_by_role("spinbutton", name="Halts after a move of (%)", exact=True)
    assert not move.is_visible()  # the breaker's settings show only once it is ticked
    breaker.check()
    wait_for_text(story, "Settings changed (circuit breaker on: halts after a move of 2%)")
    move.wait_for(state="visible")
    assert move.input_value() == "2"
    wait_for_text(explorer, "Breaking the loop (on: circuit breaker 2%)")
    # The 3% shock trips the 2% breaker; the next two rounds are halted.
    for round_no in range(3):
        widget_button(explorer, "Step").click()
        wait_for_text(story, f"Round {round_no}")
    text = wait_for_text(story, "Round 1: trading is halted by the circuit breaker")
    assert "That move tripped the circuit breaker: trading halts for 2 rounds." in text
    assert "Round 2: trading is halted" in text
    wait_for_text(status, "trading halted (resumes next round)")
    # Two grey squares mark the halted rounds in the price chart, and its key says so.
    price = explorer.locator(".bqplot").filter(has_text="Price by round").first
    grey = "rgb(140, 140, 140)"  # style.GREY
    deadline = time.monotonic() + 30
    while (fills := price.locator("path.dot").evaluate_all(
            "dots => dots.map(d => getComputedStyle(d).fill)")).count(grey) != 2:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected two grey squares, dots are filled {fills}")
        time.sleep(0.02)
    wait_for_text(explorer, "trading halted by the circuit breaker: no trade, no liquidation")
    save_screenshot(explorer, "mechanisms-lab-breaker-halted")
    # A call auction on top: run to the end; diamonds mark the rounds it cleared.
    explorer.get_by_role("checkbox", name="call auction", exact=True).check()
    wait_for_text(story, "Settings changed (call auction on)")
    widget_button(explorer, "Run to end").click()
    text = wait_for_text(story, "The cascade stopped")
    assert "a call auction cleared their" in text
    bars = explorer.locator(".bqplot").filter(has_text="Liquidated notional by round").first
    assert bars.locator("path.dot").count() == text.count("a call auction cleared their")
    wait_for_text(explorer, "above a bar: cleared by a call auction at one price")
    save_screenshot(explorer, "mechanisms-lab-breaker-and-auction")
    assert page_log.errors == []


def test_margin_rows_of_the_panel_in_lab(lab_server, page, page_log, explorer_notebook):
    """Tiered margin, dynamic margin and partial liquidation from the panel: each change
    resets the run and says so, their settings show only while they are on, and the status
    line shows the margin surcharge and the partly closed positions."""
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, explorer_notebook)
    explorer = first_explorer(panel)
    story = explorer.locator("div[role='log']")
    status = explorer.locator("div[role='status']").first
    explorer.get_by_text("Breaking the loop", exact=True).click()
    # Tiered brackets replace the flat maintenance margin, which is greyed out.
    tiers = explorer.locator("select").filter(has_text="tiered brackets (Binance style)")
    tiers.wait_for(state="visible")
    flat = explorer.get_by_role("spinbutton", name="Maintenance margin (%)", exact=True)
    assert flat.is_enabled()
    tiers.select_option(label="tiered brackets (Binance style)")
    wait_for_text(story, "Settings changed (maintenance margin: one rate (the maintenance "
                         "margin knob) → tiered brackets (Binance style))")
    wait_for_text(explorer, "These replace the flat maintenance margin knob: 0.4% below")
    deadline = time.monotonic() + 30
    while flat.is_enabled():
        if time.monotonic() > deadline:
            raise AssertionError("the flat maintenance margin box stayed enabled")
        time.sleep(0.02)
    wait_for_text(explorer, "Maint. margin: tiered")
    # Dynamic margin: a checkbox, then its two knobs.
    rise = explorer.get_by_role("spinbutton", name="Rise (× the move)", exact=True)
    assert not rise.is_visible()
    explorer.get_by_role("checkbox", name="dynamic margin", exact=True).check()
    wait_for_text(story, "Settings changed (dynamic margin on: maintenance rates rise 2× the "
                         "recent move)")
    rise.wait_for(state="visible")
    assert rise.input_value() == "2"
    window = explorer.get_by_role("spinbutton", name="Window (rounds)", exact=True)
    assert window.is_visible() and window.input_value() == "2"
    # Partial liquidation: a choice, and the slice once it is on.
    slice_box = explorer.get_by_role("spinbutton", name="Slice (%)", exact=True)
    assert not slice_box.is_visible()
    explorer.get_by_role("radio", name="a fraction per round", exact=True).check()
    wait_for_text(story, "Settings changed (partial liquidation: no (close whole positions) → "
                         "a fraction per round)")
    slice_box.wait_for(state="visible")
    assert slice_box.input_value() == "25"
    wait_for_text(explorer, "Breaking the loop (on: tiered margin, dynamic margin 2×, partial "
                            "liquidation: a fraction per round)")
    save_screenshot(explorer, "mechanisms-lab-margin-rows")
    # Step into the cascade: the status line shows the surcharge and the partial closes.
    for round_no in range(3):
        widget_button(explorer, "Step").click()
        wait_for_text(story, f"Round {round_no}")
    wait_for_text(status, "(dynamic)")
    text = wait_for_text(status, "partly closed")
    assert "margin +" in text
    save_screenshot(explorer, "mechanisms-lab-margin-round2")
    assert page_log.errors == []


def inventory_line(figure):
    """The ``d`` of the fund's inventory line in the open-interest chart (drawn in the
    Okabe-Ito orange, style.ORANGE): "" while it has no point."""
    return "".join(figure.locator("svg.svg-figure g.curve path.line").evaluate_all(
        "paths => paths.filter(p => getComputedStyle(p).stroke === 'rgb(230, 159, 0)')"
        ".map(p => p.getAttribute('d') || '')"))


def test_the_fund_inventory_moves_when_stepping_bankruptcy_orders_in_lab(
        lab_server, page, page_log, explorer_notebook):
    """Liquidation orders at the bankruptcy price, chosen in the panel: stepping, the
    insurance fund's inventory (the orange line of the open-interest chart, and the status
    line's units) moves with each round: taken over in round 1, sold down after."""
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, explorer_notebook)
    explorer = first_explorer(panel)
    story = explorer.locator("div[role='log']")
    status = explorer.locator("div[role='status']").first
    explorer.get_by_text("Breaking the loop", exact=True).click()
    unwind = explorer.get_by_role("spinbutton", name="Fund sells per round (%)", exact=True)
    assert not unwind.is_visible()  # shown only while the orders are limited
    explorer.get_by_role("radio", name="limit at the bankruptcy price", exact=True).check()
    wait_for_text(story, "Settings changed (liquidation orders: market orders → limit at the "
                         "bankruptcy price)")
    unwind.wait_for(state="visible")
    assert unwind.input_value() == "25"
    oi = explorer.locator(".bqplot").filter(has_text="Open interest").first
    wait_for_text(explorer, "the fund's inventory: units it took over and has not sold yet")
    seen, held = [], []
    for round_no in range(4):
        widget_button(explorer, "Step").click()
        wait_for_text(story, f"Round {round_no}")
        text = wait_for_text(status, f"Round {round_no}")
        held.append(re.search(r"its inventory: ([\d,.]+|less than 0.01) units?", text).group(1))
        deadline = time.monotonic() + 30
        while (d := inventory_line(oi)) in seen[-1:] and round_no > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"the inventory line did not move in round {round_no}")
            time.sleep(0.02)
        seen.append(d)
        if round_no == 1:
            save_screenshot(explorer, "mechanisms-lab-fund-inventory-round1")
    # none before round 1, taken over in round 1, sold down after: the status says so
    assert held[0] == "0" and held[1] != "0" and held[2] != held[1]
    text = wait_for_text(story, "The insurance fund took over")
    assert "closed beyond their bankruptcy price" not in text
    save_screenshot(explorer, "mechanisms-lab-fund-inventory-round3")
    assert page_log.errors == []
