"""python -m marginloops lending: the table and the story; bad input is one line, exit 2."""

import subprocess
import sys

from marginloops.cli import main


def test_lending_subcommand_prints_table_and_story(capsys):
    assert main(["lending", "--preset", "eth-pool", "--shock", "10%", "--oracle", "push",
                 "--heartbeat", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("eth-pool (changed)")
    assert "oracle (USD)" in out and "Round 0 (the shock)" in out
    assert "push oracle" in out and "10.0%" in out
    assert "after the shock" in out


def test_lending_subcommand_errors(capsys):
    assert main(["lending", "--shock", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("marginloops: error: shock must be in (0, 0.9]")
    assert main(["lending", "--preset", "nope"]) == 2
    assert "preset must be one of" in capsys.readouterr().err
    assert main(["lending", "--heartbeat", "two"]) == 2
    assert "--heartbeat" in capsys.readouterr().err
    assert main(["lending", "--list"]) == 0
    assert "small-borrowers" in capsys.readouterr().out


def test_perpetual_command_line_unchanged(capsys):
    assert main(["--preset", "crowded-longs"]) == 0
    assert capsys.readouterr().out.startswith("Scenario: crowded-longs")


def test_python_dash_m():
    r = subprocess.run([sys.executable, "-m", "marginloops", "lending", "--preset",
                        "small-borrowers"], capture_output=True, text=True, check=True)
    assert "underwater" in r.stdout
