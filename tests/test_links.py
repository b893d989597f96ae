"""marginloops.links: nbgitpuller and Binder links for every lesson.

The expected links are written by hand from the sources the module cites: nbgitpuller's link
generator (docs/_static/link_gen/link.js, generateRegularUrl; these strings were also produced
by that function run under node 20 with the same inputs, before this module existed) and the
README's Binder links.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from marginloops import links as L

ROOT = Path(__file__).resolve().parents[1]
HUB = "https://hub.example.edu"
REPO = "https://github.com/o/marginloops"

# nbgitpuller's generator on (hub, repo, urlpath lab/tree/marginloops/lessons/03-..., main)
LAB_03 = ("https://hub.example.edu/hub/user-redirect/git-pull?"
          "repo=https%3A%2F%2Fgithub.com%2Fo%2Fmarginloops"
          "&urlpath=lab%2Ftree%2Fmarginloops%2Flessons%2F03-the-loop-round-by-round.ipynb"
          "&branch=main")
VOILA_03 = ("https://hub.example.edu/hub/user-redirect/git-pull?"
            "repo=https%3A%2F%2Fgithub.com%2Fo%2Fmarginloops"
            "&urlpath=voila%2Frender%2Fmarginloops%2Flessons%2F03-the-loop-round-by-round.ipynb"
            "&branch=main")
# the README's form: https://mybinder.org/v2/gh/<owner>/<repo>/HEAD?urlpath=lab/tree/lessons/...
BINDER_LAB_00 = ("https://mybinder.org/v2/gh/o/marginloops/HEAD"
                 "?urlpath=lab/tree/lessons/00-start-here.ipynb")
BINDER_VOILA_03 = ("https://mybinder.org/v2/gh/o/marginloops/HEAD"
                   "?urlpath=voila/render/lessons/03-the-loop-round-by-round.ipynb")


def test_lesson_list_is_the_lessons_folder_with_each_notebooks_title():
    on_disk = sorted(p.name for p in (ROOT / "lessons").glob("*.ipynb"))
    assert [p.split("/")[1] for p in L.lesson_paths()] == on_disk
    for number, name, title in L.LESSONS:
        nb = json.loads((ROOT / "lessons" / name).read_text(encoding="utf-8"))
        first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
        heading = "".join(first["source"]).splitlines()[0]
        assert heading == f"# Lesson {int(number)} · {title}"


def test_lab_and_voila_links_match_nbgitpullers_generator():
    assert L.nbgitpuller_link(HUB, REPO, lesson="03") == LAB_03
    assert L.nbgitpuller_link(HUB, REPO, app="voila", lesson="3") == VOILA_03
    # a trailing slash on the hub changes nothing; a path prefix is kept
    assert L.nbgitpuller_link(HUB + "/", REPO, lesson="03") == LAB_03
    assert L.nbgitpuller_link("http://school.example/jupyter", REPO, lesson=3).startswith(
        "http://school.example/jupyter/hub/user-redirect/git-pull?repo=")


def test_the_folder_link_opens_the_lessons_folder():
    link = L.nbgitpuller_link(HUB, REPO, branch="spring-2027")
    assert link.endswith("&urlpath=lab%2Ftree%2Fmarginloops%2Flessons&branch=spring-2027")


def test_quoting_is_the_browsers_form_encoding():
    # URLSearchParams: space '+', '~' escaped, '*' kept, every other reserved byte escaped
    # (node 20: new URLSearchParams({repo: 'a b~*!'}).toString() == 'repo=a+b%7E*%21')
    link = L.nbgitpuller_link(HUB, "https://git.example/~t/x*y", branch="main", lesson="00")
    assert "repo=https%3A%2F%2Fgit.example%2F%7Et%2Fx*y&" in link
    assert "urlpath=lab%2Ftree%2Fx*y%2Flessons%2F00-start-here.ipynb&" in link


def test_clone_folder_is_what_nbgitpuller_clones_into():
    assert L.clone_folder(REPO) == "marginloops"
    assert L.clone_folder(REPO + "/") == "marginloops"
    assert L.clone_folder(REPO + ".git") == "marginloops.git"  # nbgitpuller keeps .git
    assert L.clone_folder("git@github.com:o/course.git") == "course.git"
    assert L.clone_folder("file:///srv/course/") == "course"
    assert "urlpath=lab%2Ftree%2Fmarginloops.git%2Flessons" in L.nbgitpuller_link(
        HUB, REPO + ".git")


@pytest.mark.parametrize("app", L.APPS)
@pytest.mark.parametrize("number, name, title", L.LESSONS)
def test_every_lesson_round_trips_through_urllib(app, number, name, title):
    link = L.nbgitpuller_link(HUB, REPO, branch="main", app=app, lesson=number)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "hub.example.edu",
                                                        "/hub/user-redirect/git-pull")
    query = parse_qs(parts.query, strict_parsing=True)
    folder = {"lab": "lab/tree", "voila": "voila/render"}[app]
    assert query == {"repo": [REPO], "branch": ["main"],
                     "urlpath": [f"{folder}/marginloops/lessons/{name}"]}
    binder = urlsplit(L.binder_link(REPO, branch="HEAD", app=app, lesson=number))
    assert binder.path == "/v2/gh/o/marginloops/HEAD"
    assert parse_qs(binder.query) == {"urlpath": [f"{folder}/lessons/{name}"]}


def test_binder_links_are_the_readmes():
    assert L.binder_link(REPO, branch="HEAD", lesson="00") == BINDER_LAB_00
    assert L.binder_link(REPO + ".git", branch="HEAD", app="voila",
                         lesson="03") == BINDER_VOILA_03
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for link in (BINDER_LAB_00, BINDER_VOILA_03):
        assert link.replace("o/marginloops", "<owner>/<repo>") in readme
    assert L.binder_link(REPO).endswith("/v2/gh/o/marginloops/main?urlpath=lab/tree/lessons")
    assert (L.binder_link("https://gitlab.com/g/sub/course.git", lesson="01")
            == "https://mybinder.org/v2/gl/g%2Fsub%2Fcourse/main"
               "?urlpath=lab/tree/lessons/01-margin-and-leverage.ipynb")
    assert (L.binder_link("https://git.example/course", lesson="01")
            == "https://mybinder.org/v2/git/https%3A%2F%2Fgit.example%2Fcourse/main"
               "?urlpath=lab/tree/lessons/01-margin-and-leverage.ipynb")


@pytest.mark.parametrize("kwargs, name", [
    ({"hub": "ftp://hub.example.edu"}, "hub"),
    ({"hub": "hub.example.edu"}, "hub"),
    ({"hub": "https://hub.example.edu/?x=1"}, "hub"),
    ({"app": "notebook"}, "app"),
    ({"lesson": "09"}, "lesson"),
    ({"lesson": "3.5"}, "lesson"),
    ({"repo": "marginloops"}, "repo"),
    ({"repo": "https://github.com/"}, "repo"),
    ({"repo": "file://"}, "repo"),
    ({"branch": "my branch"}, "branch"),
    ({"app": "voila", "lesson": None}, "lesson"),
])
def test_bad_input_names_the_parameter_its_value_and_what_is_allowed(kwargs, name):
    args = {"hub": HUB, "repo": REPO, "branch": "main", "app": "lab", "lesson": "03"} | kwargs
    with pytest.raises(ValueError) as info:
        L.nbgitpuller_link(args.pop("hub"), args.pop("repo"), **args)
    message = str(info.value)
    assert message.startswith(name + " must be")
    assert repr(kwargs[name]) in message
    if name == "app":
        assert "'lab', 'voila'" in message
    if name == "lesson" and kwargs[name] is not None:
        assert "00, 01, 02, 03, 04, 05, 06, 07, 08" in message


def test_command_line_prints_a_line_a_lesson_and_a_markdown_table(capsys):
    assert L.main(["--hub", HUB, "--repo", REPO, "--branch", "HEAD"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(L.LESSONS)
    title, hub, binder = lines[3].split("\t")
    assert title == "Lesson 3 · The loop, round by round"
    assert hub == LAB_03.replace("branch=main", "branch=HEAD")
    assert binder == ("https://mybinder.org/v2/gh/o/marginloops/HEAD"
                      "?urlpath=lab/tree/lessons/03-the-loop-round-by-round.ipynb")

    assert L.main(["--hub", HUB, "--repo", REPO, "--app", "voila", "--lesson", "03",
                   "--markdown"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| Lesson | Your hub (Voilà) | mybinder.org (Voilà) |"
    assert table[1] == "|---|---|---|"
    assert table[2] == (f"| 3 · The loop, round by round | [open]({VOILA_03}) | "
                        "[open](https://mybinder.org/v2/gh/o/marginloops/main"
                        "?urlpath=voila/render/lessons/03-the-loop-round-by-round.ipynb) |")
    assert len(table) == 3

    # without --app: both interfaces, every lesson
    assert L.main(["--hub", HUB, "--repo", REPO, "--markdown"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == ("| Lesson | Your hub (JupyterLab) | Your hub (Voilà) | "
                        "mybinder.org (JupyterLab) | mybinder.org (Voilà) |")
    assert table[1] == "|---|---|---|---|---|"
    assert len(table) == 2 + len(L.LESSONS)
    cells = table[5].split(" | ")
    assert cells[0] == "| 3 · The loop, round by round"
    assert cells[1] == f"[open]({LAB_03})" and cells[2] == f"[open]({VOILA_03})"


def test_command_line_error_is_one_line_and_status_2(capsys):
    assert L.main(["--hub", "hub.example.edu", "--repo", REPO]) == 2
    err = capsys.readouterr().err
    assert err.startswith("marginloops: error: hub must be") and err.count("\n") == 1
    assert L.main(["--hub", HUB, "--repo", REPO, "--lesson", "12"]) == 2
    assert "lesson must be one of 00, 01" in capsys.readouterr().err
    assert L.main(["--repo", REPO]) == 2  # argparse: --hub is required
    assert "--hub" in capsys.readouterr().err


def test_teachers_notes_hold_the_commands_table():
    """TEACHERS.md's table of hub links is exactly what the command prints for its example
    hub and repository: a change to the links (or a new lesson) shows here."""
    teachers = (Path(__file__).parent.parent / "lessons" / "TEACHERS.md").read_text(
        encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert L.main(["--hub", "https://hub.example.edu", "--repo",
                     "https://github.com/your-school/marginloops", "--markdown"]) == 0
    table = out.getvalue().strip()
    assert table.count("\n") == len(L.lesson_paths()) + 1  # a header, a rule, a row a lesson
    assert table in teachers
