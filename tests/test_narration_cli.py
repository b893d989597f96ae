"""Narration sentences and the command line."""

import subprocess
import sys

import pytest

from marginloops import (
    Cascade,
    OrderBook,
    Positions,
    Scenario,
    narrate,
    narrate_history,
    round_table,
)
from marginloops.cli import main


def small_run(**kwargs):
    pos = Positions.from_arrays([1, 1, 1], [1.0, 1.0, 2.0], [110.0, 196.0, 105.0],
                                [10.0, 2.0, 5.0], 0.0)
    book = OrderBook.from_levels(100 - __import__("numpy").arange(6.0), [1, 1, 1, 1, 1, 10])
    return Cascade(pos, book, shock=0.015, **kwargs).run()


def test_round_sentences_state_the_numbers():
    hist = small_run()
    assert narrate(hist[0]) == ("Round 0 (the shock): an outside seller sold 2 units and moved "
                                "the price 1.0% lower, from 100.00 to 99.00. 1 position is now "
                                "within reach: the price has reached its liquidation price.")
    assert narrate(hist[1]).startswith(
        "Round 1: 1 long was liquidated (99 USD); selling 1 unit into the book moved the price "
        "1.0% lower, from 99.00 to 98.00 (average fill 98.00, slippage 1.0%).")
    assert "1 USD of the losses: that is bad debt" in narrate(hist[1])


def test_end_sentences():
    lines = narrate_history(small_run())
    assert lines[-1].startswith("The cascade stopped after round 2: no open position has its "
                                "liquidation price within reach of the price (a fixed point).")
    assert "the price fell 3.0% in all, 3.0 times the shock's 1.0%" in lines[-1]
    empty = Scenario(n_positions=0).cascade().run()
    assert "there are no leveraged positions in this market" in narrate_history(empty)[-1]
    exhausted = Scenario.preset("thin-book").replace(shock=0.99).cascade().run()
    end = narrate_history(exhausted)
    assert "took every bid in the book" in end[0]
    assert "the order book ran out of bids" in end[-1] and "went unfilled" in end[-1]
    capped = Scenario.preset("crowded-longs").replace(max_rounds=2).cascade().run()
    assert narrate_history(capped)[-1].startswith("The run stopped at its limit of 2 rounds")


def test_squeeze_sentences():
    hist = Scenario.preset("short-squeeze").cascade().run()
    assert "an outside buyer bought" in narrate(hist[0]) and "higher" in narrate(hist[0])
    assert "shorts were liquidated" in narrate(hist[1]) and "buying" in narrate(hist[1])


def test_cli_prints_table_and_story(capsys):
    assert main(["--preset", "calm-market"]) == 0
    out = capsys.readouterr().out
    assert "Scenario: calm-market" in out and "round  price" in out
    assert "Round 0 (the shock)" in out and "The cascade stopped" in out


def test_cli_set_save_and_load(tmp_path, capsys):
    path = tmp_path / "mine.json"
    assert main(["--set", "shock=0.1", "--set", "leverage_mix=5:1,20:1", "--save", str(path)]) == 0
    saved = Scenario.load(path)
    assert saved.shock == 0.1 and saved.leverage_mix == ((5.0, 1.0), (20.0, 1.0))
    capsys.readouterr()
    assert main(["--scenario", str(path)]) == 0
    assert "shock 10.0% down" in capsys.readouterr().out


def test_cli_reports_bad_input_without_traceback(capsys, tmp_path):
    assert main(["--set", "shock=2"]) == 2
    assert "marginloops: error: shock must be in (0, 1), got 2" in capsys.readouterr().err
    assert main(["--set", "colour=red"]) == 2
    assert main(["--set", "shock=abc"]) == 2
    assert "cannot read 'abc'" in capsys.readouterr().err
    assert main(["--scenario", str(tmp_path / "missing.json")]) == 2


def test_python_dash_m_runs():
    out = subprocess.run([sys.executable, "-m", "marginloops", "--list"], capture_output=True,
                         text=True, check=True).stdout
    assert "crowded-longs" in out and "short-squeeze" in out


def test_core_never_imports_the_interface():
    code = ("import sys, marginloops; marginloops.Scenario().cascade().run(); "
            "import marginloops.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'bqplot')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_round_table_columns_and_drop_ratio():
    hist = small_run()  # prices 100 -> 99 -> 98 -> 97: drops of 1 USD each round
    table = round_table(hist, columns=("round", "price", "drop", "drop_ratio")).splitlines()
    assert table[0].split() == ["round", "price", "(USD)", "drop", "(USD)", "drop", "/",
                                "previous"]
    assert table[1].split() == ["0", "99.00", "1.00", "-"]
    assert table[3].split() == ["2", "97.00", "1.00", "1.00"]
    with pytest.raises(ValueError, match="columns must be among"):
        round_table(hist, columns=("colour",))


def test_small_moves_keep_two_decimals_and_shock_stage_names_its_last_fill():
    from marginloops.narration import narrate_new_price, narrate_shock, percent
    assert percent(0.0004) == "0.04%" and percent(0.023) == "2.3%"
    hist = small_run()
    text = narrate_shock(hist[0], 0.015)
    assert text == ("The shock: an outside seller sells 2 units, taking every bid within 1.5% "
                    "below 100.00; its last fill is at 99.00, the price the next stage sets.")
    # the next stage, by hand: 100.00 -> 99.00 is 1.0% lower
    assert narrate_new_price(hist[0]) == ("New price: the last fill, 99.00, is the new price, "
                                          "1.0% lower than 100.00.")


def test_closed_form_amplification():
    from marginloops import closed_form_amplification
    assert closed_form_amplification(0.5) == 2.0 and closed_form_amplification(0.0) == 1.0
    assert closed_form_amplification(1.0) == float("inf")
    with pytest.raises(ValueError, match="ratio must be >= 0"):
        closed_form_amplification(-1)


def test_cli_sets_mechanisms(capsys):
    assert main(["--set", "breaker_move=0.02", "--set", "call_auction=true",
                 "--set", "resilience=0.3"]) == 0
    out = capsys.readouterr().out
    assert "trading is halted by the circuit breaker" in out
    assert "a call auction cleared" in out
    assert main(["--set", "call_auction=maybe"]) == 2
    assert main(["--set", "breaker_move=none"]) == 0
