"""``python -m marginloops sweep``: the grid syntax, the CSV it writes, workers, bad input (exit
2, one line on stderr) and Ctrl-C (the rows done are written, exit 130)."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from marginloops import Scenario, sweep
from marginloops.cli import main

SMALL = ["--set", "n_positions=300", "--set", "open_interest=3e6"]


def run(capsys, *argv):
    code = main(["sweep", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def table(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_a_to_b_in_n_steps_and_percentages(capsys):
    code, out, err = run(capsys, "--preset", "thin-book", *SMALL, "--grid",
                         "depth_1pct=1e5:4e5:4", "--grid", "shock=1%:10%:3", "--no-progress")
    assert code == 0 and err == ""
    rows = table(out)
    assert len(rows) == 12
    assert [float(r["depth_1pct"]) for r in rows[::3]] == [1e5, 2e5, 3e5, 4e5]
    assert [float(r["shock"]) for r in rows[:3]] == pytest.approx([0.01, 0.055, 0.10])
    assert [int(r["cell"]) for r in rows] == list(range(12))
    assert set(rows[0]) == {"cell", "depth_1pct", "shock", "seed", "fall", "amplification",
                            "rounds", "liquidated", "notional", "bad_debt", "end_reason"}
    # the same table as the Python call with the same values
    base = Scenario.preset("thin-book").variant(n_positions=300, open_interest=3e6)
    want = sweep(base, {"depth_1pct": [1e5, 2e5, 3e5, 4e5], "shock": [0.01, 0.055, 0.1]},
                 progress=False)
    assert [r["fall"] for r in rows] == [repr(row["fall"]) for row in want]


def test_a_list_of_values_seeds_measures_and_out(capsys, tmp_path):
    out_file = tmp_path / "s.csv"
    code, out, err = run(capsys, *SMALL, "--grid", "partial=none,fraction", "--seeds", "2",
                         "--measures", "rounds,liquidated", "--out", str(out_file),
                         "--no-progress")
    assert code == 0 and out == ""
    assert err == f"marginloops: wrote 4 runs to {out_file}\n"
    rows = table(out_file.read_text(encoding="utf-8"))
    assert list(rows[0]) == ["cell", "partial", "seed", "rounds", "liquidated"]
    assert [(r["partial"], r["seed"]) for r in rows] == [("", "0"), ("", "1"),
                                                         ("fraction", "0"), ("fraction", "1")]


def test_two_workers_give_the_in_process_table(capsys):
    args = [*SMALL, "--grid", "depth_1pct=5e5:2e6:3", "--grid", "shock=0.02,0.05",
            "--seeds", "2", "--no-progress"]
    code1, one, _ = run(capsys, *args)
    code2, two, _ = run(capsys, *args, "--workers", "2")
    assert code1 == code2 == 0
    assert one == two and len(table(one)) == 12


def test_a_scenario_file(capsys, tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"preset": "calm-market", "n_positions": 200}', encoding="utf-8")
    code, out, _ = run(capsys, "--scenario", str(path), "--grid", "shock=0.05",
                       "--measures", "liquidated", "--no-progress")
    want = sweep(Scenario.preset("calm-market").replace(n_positions=200), {"shock": [0.05]},
                 measures=["liquidated"], progress=False)
    assert code == 0 and table(out)[0]["liquidated"] == str(want.rows[0]["liquidated"])


def test_the_progress_bar_goes_to_stderr(capsys):
    code, out, err = run(capsys, *SMALL, "--grid", "shock=0.02,0.04,0.06")
    assert code == 0 and len(table(out)) == 3
    assert re.search(r"3/3 \[\d\d:\d\d<\d\d:\d\d", err)


@pytest.mark.parametrize("argv, message", [
    ([], r"give at least one --grid"),
    (["--grid", "shock"], r"--grid takes FIELD=VALUES"),
    (["--grid", "shok=0.1"], r"--grid shok: 'shok' is not a scenario field to sweep; did you "
                             r"mean 'shock'\?"),
    (["--grid", "shock=0.1:0.2"], r"--grid shock: cannot read '0.1:0.2' as a value"),
    (["--grid", "shock=a:0.2:3"], r"--grid shock: cannot read 'a:0.2:3' as A:B:N"),
    (["--grid", "shock=0.1:0.2:0"], r"N in A:B:N must be a whole number in \[1, 100,000\], "
                                    r"got '0'"),
    (["--grid", "shock=0.1:0.2:x"], r"N in A:B:N must be a whole number"),
    (["--grid", "n_positions=100:200:3"], None),  # whole steps: fine
    (["--grid", "n_positions=100:201:3"], r"gives values that are not whole numbers"),
    (["--grid", "book_shape=a:b:3"], r"A:B:N needs a number field"),
    (["--grid", "leverage_mix=10:1"], r"a field of pairs cannot be swept"),
    (["--grid", "shock=0.1", "--grid", "shock=0.2"], r"--grid shock is given twice"),
    (["--grid", "shock=2"], r"grid cell 0 \(shock=2\.0, seed 0\): shock must be in \(0, 1\)"),
    (["--grid", "mmr=0.1"], r"mmr 0\.1 allows leverage below 10x"),
    (["--grid", "shock=0.1", "--seeds", "0"], r"--seeds must be a whole number in \[1, "
                                              r"10,000\], got '0'"),
    (["--grid", "shock=0.1", "--workers", "two"], r"--workers must be a whole number"),
    (["--grid", "shock=0.1", "--measures", "fal"], r"measure 'fal' is not one of"),
    (["--grid", "shock=0.1", "--set", "shok=1"], r"--set shok: 'shok' is not a scenario field"),
    (["--grid", "shock=0.1", "--preset", "nope"], r"preset must be one of"),
    (["--grid", "shock=0.1", "--scenario", "/nonexistent.json"], r"does not exist"),
    (["--grid", "shock=0.1", "--out", " "], r"--out needs a file name"),
    (["--grid", "shock=0.1", "--bogus"], r"unrecognized arguments: --bogus"),
    (["--grid", "shock=0.1:0.2:100000", "--grid", "seed=0:99999:100000"],
     r"asks for 10,000,000,000 runs; at most 10,000,000"),
])
def test_bad_input_is_exit_2_and_one_line(capsys, argv, message):
    code, out, err = run(capsys, *SMALL, *argv, "--no-progress")
    if message is None:
        assert code == 0
        return
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("marginloops"), err
    assert re.search(message, err), err


def test_a_cell_that_conflicts_midway_leaves_one_line(capsys):
    base = ["--preset", "crowded-longs", "--set", "n_positions=200"]
    code, out, err = run(capsys, *base, "--grid", "mmr=0.005,0.02")
    assert code == 2 and out == ""
    # the bar is cleared ("\r" and blanks), and the error is the one line left
    assert err.strip("\r ").count("\n") == 1
    assert err.rstrip("\n").split("\r")[-1].startswith("marginloops: error: grid cell 1 "
                                                       "(mmr=0.02, seed 0):")


def test_ctrl_c_writes_the_rows_done_and_exits_130(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it: the two workers
    ignore it, the sweep stops, the rows done are written."""
    out_file = tmp_path / "part.csv"
    # 20,000 runs (about 20 s whole): the interrupt lands long before the end on any machine
    cmd = [sys.executable, "-m", "marginloops", "sweep", "--grid", "shock=0.01:0.2:4000",
           "--seeds", "5", "--workers", "2", "--out", str(out_file)]
    seen = []
    started = threading.Event()
    # SIGINT's default restored in the child, as a terminal's shell starts a command: a
    # pytest-xdist worker ignores SIGINT, and an ignored signal stays ignored across exec (Python
    # then installs no KeyboardInterrupt handler)
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          cwd=tmp_path, start_new_session=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) \
            as proc:

        def read_err():
            buf = b""
            while chunk := proc.stderr.read1(4096):
                buf += chunk
                seen.append(chunk)
                done = [int(n) for n in re.findall(rb"(\d+)/20000", buf)]
                if done and max(done) >= 40:
                    started.set()

        reader = threading.Thread(target=read_err, daemon=True)
        reader.start()
        assert started.wait(120), b"".join(seen)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=120)
        reader.join(10)
    err = b"".join(seen).decode()
    assert code == 130, err
    last = err.rstrip("\n").split("\n")[-1]
    m = re.fullmatch(rf"marginloops: interrupted: wrote the ([\d,]+) of 20,000 runs done to "
                     rf"{re.escape(str(out_file))}", last)
    assert m, err
    assert "Traceback" not in err  # no worker died of the signal
    rows = table(out_file.read_text(encoding="utf-8"))
    assert 40 <= len(rows) < 20000 and len(rows) == int(m.group(1).replace(",", ""))
    cells = [int(r["cell"]) for r in rows]
    assert cells == sorted(cells)  # grid order, the missing cells absent
    # a row written is the run of its cell
    r = rows[len(rows) // 2]
    want = sweep(Scenario.preset("crowded-longs"), [{"shock": float(r["shock"])}],
                 seeds=[int(r["seed"])], progress=False).rows[0]
    assert float(r["fall"]) == want["fall"] and int(r["liquidated"]) == want["liquidated"]


def test_the_links_subcommand_is_dispatched_too(capsys):
    """``marginloops links`` (marginloops.links.main) through the same entry point."""
    code = main(["links", "--hub", "https://hub.example.edu", "--repo",
                 "https://github.com/owner/marginloops", "--lesson", "03"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith("Lesson 3") and "https://hub.example.edu/hub/user-redirect/git-pull?" \
        in out
    assert main(["links", "--hub", "x"]) == 2


def test_a_range_gives_the_values_a_person_means(capsys):
    """1%:10%:3 is 0.01, 0.055, 0.1 in the CSV (not 0.05500000000000001), and 1e6:8e6:8 steps
    by exactly 1e6."""
    assert main(["sweep", "--preset", "crowded-longs", "--grid", "shock=1%:10%:3",
                 "--measures", "rounds", "--no-progress"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["0.01", "0.055", "0.1"]
    assert main(["sweep", "--preset", "crowded-longs", "--grid", "depth_1pct=1e6:8e6:8",
                 "--measures", "rounds", "--no-progress"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [float(r.split(",")[1]) for r in rows[1:]] == [k * 1e6 for k in range(1, 9)]
