"""Printable worksheets: each lesson's exercises as a page to print, with room to work and no
answers, and a teacher's copy with the answers and what is accepted. Both are generated from
the same :class:`~marginloops.exercises.Exercise` objects as the lessons' answer boxes, so
the paper cannot drift from the notebooks::

    python -m marginloops.worksheets lessons/worksheets

A tool of the course, like ``marginloops.course`` (which it reads, lazily, through
``importlib``); it needs only the standard library, and the model core never imports it.
"""

from __future__ import annotations

import argparse
import html
import importlib
import math
import sys
from pathlib import Path

from .exercises import Exercise
from .numbers import number

#: (lesson number, notebook name without .ipynb, title), in course order.
LESSONS = (
    ("00", "00-start-here", "Start here"),
    ("01", "01-margin-and-leverage", "Margin and leverage"),
    ("02", "02-order-books-and-slippage", "Order books and slippage"),
    ("03", "03-the-loop-round-by-round", "The loop, round by round"),
    ("04", "04-liquidation-clusters", "Liquidation clusters and open interest"),
    ("05", "05-breaking-the-loop", "Breaking the loop"),
    ("06", "06-case-studies", "Case studies"),
    ("07", "07-how-exchanges-liquidate", "How exchanges liquidate"),
    ("08", "08-defi-lending", "DeFi lending and liquidation bots"),
)

#: How an answer is written, the same rule as the answer boxes (marginloops.exercises).
RULE = ("A percentage is written in per cent, with or without the % sign: 3.5 and 3.5% both "
        "mean 3.5% (0.035 would mean 0.035%). Every other answer is a plain number, without %.")

_STYLE = """
body { font-family: Georgia, serif; max-width: 46em; margin: 1.5em auto; color: #000; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
.who { margin: 1em 0; }
.who span { display: inline-block; width: 18em; border-bottom: 1px solid #000; }
.rule { font-size: 0.95em; border: 1px solid #999; padding: 0.4em 0.6em; }
.exercise { page-break-inside: avoid; break-inside: avoid; margin-top: 1.4em; }
.work { height: 9em; border: 1px dashed #999; margin: 0.4em 0; }
.answer span { display: inline-block; width: 12em; border-bottom: 1px solid #000; }
.key { border-left: 4px solid #006b4f; padding-left: 0.6em; }
@page { margin: 1.5cm; }
@media print { body { margin: 0; max-width: none; } }
""".strip()


def _entry(lesson: str) -> tuple[str, str, str]:
    """The :data:`LESSONS` entry of ``lesson``; a ValueError naming the choices otherwise."""
    for entry in LESSONS:
        if entry[0] == lesson:
            return entry
    raise ValueError(f"lesson must be one of {', '.join(n for n, _, _ in LESSONS)}, "
                     f"got {lesson!r:.40}")


def lesson_exercises(lesson: str) -> list[Exercise]:
    """Lesson ``lesson``'s exercises ("00" ... "08"), as its notebook asks them."""
    _entry(lesson)
    return importlib.import_module(f"marginloops.course.lesson{lesson}").exercises()


def accepted(exercise: Exercise) -> str:
    """The range of answers the exercise accepts, in its unit ("5.33 to 5.34 USD").

    >>> accepted(Exercise("q?", 0.004, unit="%", tolerance=0.0, abs_tolerance=0.00002))
    '0.398% to 0.402%'
    >>> accepted(Exercise("q?", 353, unit="positions", tolerance=0.0, abs_tolerance=0.5))
    '352.5 to 353.5 positions'
    """
    width = max(exercise.tolerance * abs(exercise.answer), exercise.abs_tolerance)
    scale = 100.0 if exercise.unit == "%" else 1.0
    low, high = (exercise.answer - width) * scale, (exercise.answer + width) * scale
    decimals = 2 if width == 0 else max(2, math.ceil(-math.log10(width * scale)) + 1)
    sign = "%" if exercise.unit == "%" else ""
    unit = f" {exercise.unit}" if exercise.unit not in ("%", "") else ""
    return (f"{number(low, decimals, trim=True)}{sign} to "
            f"{number(high, decimals, trim=True)}{sign}{unit}")


def worksheet(lesson: str, *, answers: bool = False,
              exercises: list[Exercise] | None = None) -> str:
    """Lesson ``lesson``'s worksheet as one HTML page; with ``answers=True`` the teacher's copy
    (each answer, what is accepted, the hints)."""
    _, notebook, title = _entry(lesson)
    exercises = lesson_exercises(lesson) if exercises is None else exercises
    heading = f"Lesson {int(lesson)} · {title}: {'answers' if answers else 'worksheet'}"
    parts = [
        "<!DOCTYPE html>", "<html lang='en'>", "<head>", "<meta charset='utf-8'>",
        f"<title>{html.escape(heading)}</title>", f"<style>\n{_STYLE}\n</style>", "</head>",
        "<body>", f"<h1>{html.escape(heading)}</h1>",
        f"<p>marginloops, <code>lessons/{notebook}.ipynb</code>. Work each exercise out with the "
        f"lesson's notebook (its explorers and code) or on paper, and write your answer on the "
        f"line.</p>",
    ]
    if not answers:
        parts.append("<p class='who'>Name: <span></span> Date: <span></span></p>")
    parts.append(f"<p class='rule'>{html.escape(RULE)}</p>")
    for k, exercise in enumerate(exercises, start=1):
        parts += ["<div class='exercise'>",
                  f"<h2>Exercise {k}</h2>", f"<p>{html.escape(exercise.question)}</p>",
                  f"<p><i>How to write it: {html.escape(exercise.form)}.</i></p>"]
        if answers:
            hints = "".join(f"<li>{html.escape(h)}</li>" for h in exercise.hints)
            parts += ["<div class='key'>",
                      f"<p><b>Answer: {html.escape(exercise.show(exercise.answer))}</b> "
                      f"(accepted: {html.escape(accepted(exercise))}).</p>",
                      f"<p>Hints the box gives after a wrong answer:</p><ol>{hints}</ol>"
                      if hints else "", "</div>"]
        else:
            unit = exercise.unit if exercise.unit != "x" else "x (leverage)"
            parts += ["<div class='work'></div>",
                      f"<p class='answer'>Answer: <span></span> {html.escape(unit)}</p>"]
        parts.append("</div>")
    parts += ["</body>", "</html>"]
    return "\n".join(part for part in parts if part) + "\n"


def pages() -> dict[str, str]:
    """Every worksheet page, by file name: ``<notebook>.html`` (the students') and
    ``<notebook>-answers.html`` (the teacher's)."""
    out = {}
    for lesson, notebook, _ in LESSONS:
        exercises = lesson_exercises(lesson)
        out[f"{notebook}.html"] = worksheet(lesson, exercises=exercises)
        out[f"{notebook}-answers.html"] = worksheet(lesson, answers=True, exercises=exercises)
    return out


def write(folder) -> list[Path]:
    """Write every page of :func:`pages` into ``folder`` (created if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv=None) -> int:
    """``python -m marginloops.worksheets FOLDER``: write the worksheets, list them."""
    parser = argparse.ArgumentParser(prog="python -m marginloops.worksheets",
                                     description="Write each lesson's printable worksheet "
                                                 "(and the teacher's copy with answers).")
    parser.add_argument("folder", help="where to write the pages, e.g. lessons/worksheets")
    args = parser.parse_args(argv)
    for path in write(args.folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
