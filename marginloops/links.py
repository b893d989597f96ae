"""Links that open a lesson for a class: nbgitpuller links for a school's JupyterHub, and
mybinder.org links for the same lesson.

``python -m marginloops links --hub https://hub.example.edu --repo https://github.com/o/r``
prints, for every lesson (or ``--lesson 03``), its title, the hub link and the Binder link;
``--markdown`` prints them as a table for ``lessons/TEACHERS.md`` (JupyterLab and Voilà
columns, or only ``--app``'s).

An nbgitpuller link (https://nbgitpuller.readthedocs.io/en/latest/topic/url-options.html) is
``<hub>/hub/user-redirect/git-pull?repo=<git url>&urlpath=<where to go>&branch=<branch>``:
the hub sends the signed-in student to their own server, whose nbgitpuller extension clones the
repository into their home folder (or merges the teacher's new commits into the copy already
there) and then opens ``urlpath``. This module builds it exactly as nbgitpuller's own link
generator does (``docs/_static/link_gen/link.js``, ``generateRegularUrl``, in
github.com/jupyterhub/nbgitpuller at f7dce43, March 2026):

- the hub URL's path gets a trailing ``/`` and then ``hub/user-redirect/git-pull``;
- the query is ``repo``, ``urlpath``, ``branch`` in that order, set with the browser's
  ``URLSearchParams``, i.e. ``application/x-www-form-urlencoded``: letters, digits and
  ``*-._`` stay, a space is ``+``, every other byte of the UTF-8 text is ``%XX`` (so ``/``
  and ``:`` are escaped too, and ``~`` is ``%7E``);
- ``urlpath`` for JupyterLab is ``lab/tree/<clone folder>/<file>`` (the generator's
  ``jupyterlab`` app); for Voila it is ``voila/render/<clone folder>/<file>``, the same path
  Voila's server extension serves locally and on Binder (``/voila/render/lessons/...``);
- the clone folder is the last part of the repository URL, trailing ``/`` removed, exactly as
  nbgitpuller's server names it (``nbgitpuller/handlers.py``: ``targetPath`` defaults to
  ``repo.rstrip('/').split('/')[-1]``). Note that it keeps a ``.git`` ending: a repository
  given as ``https://github.com/o/marginloops.git`` is cloned into ``marginloops.git/``, and
  the link generator agrees (its ``replace(/(\\.git|\\.bundle)?/, '')`` matches the empty
  string at position 0 and removes nothing).

A Binder link (https://mybinder.readthedocs.io/en/latest/howto/user_interface.html and the
README's own links) is ``https://mybinder.org/v2/gh/<owner>/<repo>/<ref>?urlpath=<path>``, with
``urlpath`` relative to the repository's root (``lab/tree/lessons/...`` or
``voila/render/lessons/...``), written with its ``/`` unescaped as in the README. A GitLab
project is ``/v2/gl/<group>%2F<project>/<ref>``, any other git URL ``/v2/git/<url-escaped
url>/<ref>``.

Core module: standard library only.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import quote, quote_plus, urlsplit

#: The lessons, in course order: (number, file name, title). tests/test_links.py checks them
#: against lessons/*.ipynb (file names, and each notebook's first heading).
LESSONS = (
    ("00", "00-start-here.ipynb", "Start here"),
    ("01", "01-margin-and-leverage.ipynb", "Margin and leverage"),
    ("02", "02-order-books-and-slippage.ipynb", "Order books and slippage"),
    ("03", "03-the-loop-round-by-round.ipynb", "The loop, round by round"),
    ("04", "04-liquidation-clusters.ipynb", "Liquidation clusters and open interest"),
    ("05", "05-breaking-the-loop.ipynb", "Breaking the loop"),
    ("06", "06-case-studies.ipynb", "Case studies"),
    ("07", "07-how-exchanges-liquidate.ipynb", "How exchanges liquidate"),
    ("08", "08-defi-lending.ipynb", "DeFi lending and liquidation bots"),
)
#: The interfaces a link can open: JupyterLab, or the lesson as an app in Voila.
APPS = ("lab", "voila")
_URLPATH = {"lab": "lab/tree/", "voila": "voila/render/"}
_REPO_SCHEMES = ("http", "https", "git")
#: A repository on the hub's own disk (``file:///srv/course``): git clones it too.
_FILE_SCHEME = "file"
BINDER = "https://mybinder.org"


def lesson_paths():
    """The lessons' paths inside the repository, in course order: ``lessons/00-....ipynb``."""
    return [f"lessons/{name}" for _, name, _ in LESSONS]


def _form_quote(text):
    """``text`` as URLSearchParams writes a value (WHATWG application/x-www-form-urlencoded).

    Python's quote_plus keeps ``~`` and escapes ``*``; the browser's serializer does the
    opposite, so both are corrected here to match nbgitpuller's link generator byte for byte.
    """
    return quote_plus(text, safe="*").replace("~", "%7E")


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; "
                         f"got {value!r}")


def _check_hub(hub):
    parts = urlsplit(hub) if isinstance(hub, str) else None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.netloc
            or parts.query or parts.fragment or any(c.isspace() for c in hub)):
        raise ValueError(f"hub must be the hub's http:// or https:// address with no query "
                         f"(e.g. 'https://hub.example.edu'); got {hub!r}")
    return parts


def _check_repo(repo):
    """The repository URL without a trailing ``/`` (nbgitpuller's clone folder would be empty)."""
    ok = isinstance(repo, str) and not any(c.isspace() for c in repo)
    if ok:
        stripped = repo.rstrip("/")
        parts = urlsplit(stripped)
        scp = stripped.startswith("git@") and ":" in stripped  # git@host:owner/repo(.git)
        ok = scp or (parts.scheme in _REPO_SCHEMES and parts.netloc and parts.path.strip("/")) \
            or (parts.scheme == _FILE_SCHEME and parts.path.strip("/"))
    if not ok:
        raise ValueError("repo must be a git URL with a repository path: http(s)://, git://, "
                         "git@host:owner/repo (nbgitpuller's accepted forms) or file:///path; "
                         f"got {repo!r}")
    return stripped


def _check_branch(branch):
    if not isinstance(branch, str) or not branch.strip() or any(c.isspace() for c in branch):
        raise ValueError(f"branch must be a branch name with no spaces (e.g. 'main'); "
                         f"got {branch!r}")


def lesson_file(lesson):
    """The file name of ``lesson``: ``"03"``, ``"3"``, ``3``, ``"03-the-loop-round-by-round"``
    or its file name. ValueError (naming the lessons) for anything else."""
    text = str(lesson).strip()
    for number, name, _ in LESSONS:
        if text in (number, str(int(number)), name, name[:-len(".ipynb")]):
            return name
    raise ValueError(f"lesson must be one of {', '.join(n for n, _, _ in LESSONS)} (or a "
                     f"lesson's file name); got {lesson!r}")


def clone_folder(repo):
    """The folder nbgitpuller clones ``repo`` into, in the student's home folder.

    nbgitpuller/handlers.py: ``repo.rstrip('/').split('/')[-1]`` (a ``.git`` ending stays).
    """
    repo = _check_repo(repo)
    return repo.split("/")[-1]


def nbgitpuller_link(hub, repo, *, branch="main", app="lab", lesson=None):
    """The nbgitpuller link that pulls ``repo`` (``branch``) into a student's home folder on
    ``hub`` and opens ``lesson`` (None: the lessons folder) in ``app`` (``"lab"`` or
    ``"voila"``; Voila needs a lesson). See the module's docstring for the format's sources.
    """
    parts = _check_hub(hub)
    repo = _check_repo(repo)
    _check_branch(branch)
    _check_choice("app", app, APPS)
    if lesson is None and app == "voila":
        raise ValueError("lesson must be given for app 'voila' (Voila renders one notebook); "
                         "got None")
    target = clone_folder(repo) + "/lessons"
    if lesson is not None:
        target += "/" + lesson_file(lesson)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    query = "&".join(f"{key}={_form_quote(value)}" for key, value in
                     (("repo", repo), ("urlpath", _URLPATH[app] + target), ("branch", branch)))
    return f"{parts.scheme}://{parts.netloc}{path}hub/user-redirect/git-pull?{query}"


def binder_link(repo, *, branch="main", app="lab", lesson=None, binder=BINDER):
    """The mybinder.org link that builds ``repo`` at ``branch`` and opens ``lesson`` (None: the
    lessons folder) in ``app``, written as the README's Binder links are."""
    repo = _check_repo(repo)
    _check_branch(branch)
    _check_choice("app", app, APPS)
    _check_hub(binder)
    if lesson is None and app == "voila":
        raise ValueError("lesson must be given for app 'voila' (Voila renders one notebook); "
                         "got None")
    parts = urlsplit(repo)
    project = parts.path.strip("/")
    if parts.netloc.lower() in ("github.com", "www.github.com") and project.count("/") == 1:
        owner, name = project.split("/")
        spec = f"gh/{owner}/{name.removesuffix('.git')}"
    elif parts.netloc.lower() == "gitlab.com" and parts.scheme.startswith("http"):
        spec = "gl/" + quote(project.removesuffix(".git"), safe="")
    else:
        spec = "git/" + quote(repo, safe="")
    target = "lessons" + ("" if lesson is None else "/" + lesson_file(lesson))
    urlpath = quote(_URLPATH[app] + target, safe="/")
    return f"{binder.rstrip('/')}/v2/{spec}/{quote(branch, safe='')}?urlpath={urlpath}"


def links(hub, repo, *, branch="main", app="lab", lesson=None):
    """``[(number, title, hub link, Binder link), ...]`` for every lesson (or just ``lesson``)."""
    chosen = LESSONS if lesson is None else [x for x in LESSONS if x[1] == lesson_file(lesson)]
    return [(number, title,
             nbgitpuller_link(hub, repo, branch=branch, app=app, lesson=number),
             binder_link(repo, branch=branch, app=app, lesson=number))
            for number, _, title in chosen]


_APP_NAMES = {"lab": "JupyterLab", "voila": "Voilà"}


def markdown_table(hub, repo, *, branch="main", apps=APPS, lesson=None):
    """A Markdown table for lessons/TEACHERS.md: a row a lesson, and for each app in ``apps``
    a column of hub links and one of Binder links."""
    for app in apps:
        _check_choice("app", app, APPS)
    columns = [f"Your hub ({_APP_NAMES[a]})" for a in apps]
    columns += [f"mybinder.org ({_APP_NAMES[a]})" for a in apps]
    lines = ["| Lesson | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    by_app = [links(hub, repo, branch=branch, app=a, lesson=lesson) for a in apps]
    for rows in zip(*by_app, strict=True):
        number, title = rows[0][:2]
        cells = [f"[open]({row[2]})" for row in rows] + [f"[open]({row[3]})" for row in rows]
        lines.append(f"| {int(number)} · {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m marginloops links ...``: print the links (see the module docstring); return
    the exit status (0, or 2 for a bad input, said in one line on stderr)."""
    parser = argparse.ArgumentParser(
        prog="marginloops links",
        description="Print the nbgitpuller link (for your JupyterHub) and the mybinder.org "
                    "link of every lesson, or of one.")
    parser.add_argument("--hub", required=True, help="your JupyterHub, e.g. https://hub.example.edu")
    parser.add_argument("--repo", required=True,
                        help="the course's git URL, e.g. https://github.com/owner/marginloops")
    parser.add_argument("--branch", default="main", help="branch to pull (default: main)")
    parser.add_argument("--app", default=None,
                        help="lab (JupyterLab) or voila (the lesson as an app); default: lab, "
                             "and both with --markdown")
    parser.add_argument("--lesson", default=None, help="one lesson, e.g. 03 (default: all)")
    parser.add_argument("--markdown", action="store_true",
                        help="print a Markdown table (for lessons/TEACHERS.md)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage mistake argparse already reported
        return stop.code if isinstance(stop.code, int) else 2
    try:
        if args.markdown:
            apps = APPS if args.app is None else (args.app,)
            table = markdown_table(args.hub, args.repo, branch=args.branch, apps=apps,
                                   lesson=args.lesson)
        else:
            rows = links(args.hub, args.repo, branch=args.branch, app=args.app or "lab",
                         lesson=args.lesson)
    except ValueError as error:  # one line and status 2, as every marginloops command
        sys.stderr.write(f"marginloops: error: {error}\n")
        return 2
    if args.markdown:
        print(table)
    else:
        for number, title, hub, binder in rows:  # one line a lesson, tab-separated
            print(f"Lesson {int(number)} · {title}\t{hub}\t{binder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
