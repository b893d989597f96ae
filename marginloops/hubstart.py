"""Start a class's servers on a JupyterHub before the lesson, a few at a time.

``python -m marginloops start-servers --hub https://hub.example.edu --group students`` (the
token in ``$JUPYTERHUB_API_TOKEN``) starts every student's server through the hub's REST API
and waits until each is ready, at most ``--at-a-time`` starting at once. Run it a few minutes
before class (by hand, or from cron): the class then arrives at running servers, and the
minute in which thirty students open their link costs only their kernels and the lesson
(benchmarks/README.md, "A class on a JupyterHub": a server's start is most of a student's
arrival).

The REST API (https://jupyterhub.readthedocs.io/en/stable/reference/rest-api.html, and
``jupyterhub/apihandlers/users.py`` of JupyterHub 5):

- ``POST /hub/api/users/<name>/server`` starts the default server: 201 when it is up at once,
  202 while it starts, 400 "is already running" when it runs, 404 for no such user, 429 "Too
  many users trying to log in right now" with a ``Retry-After`` header when the hub's
  ``concurrent_spawn_limit`` is reached;
- ``GET /hub/api/users/<name>`` reads ``servers[""]["ready"]`` and ``pending``;
- ``GET /hub/api/groups/<group>`` lists a group's ``users``; ``GET /hub/api/users`` every user
  (with ``Accept: application/jupyterhub-pagination+json``, pages of ``items``).

The token needs the scopes ``list:users``, ``read:users``, ``read:groups`` and ``servers``
(deploy/jupyterhub_config.py defines a ``class-starter`` service with them).

Core module: standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from urllib.parse import quote, urlsplit

#: How many servers start at once by default: a server's start takes about 3 CPU-seconds and
#: several seconds of waiting (the hub checks it answers); five at a time started 32 servers in
#: 154-159 s on a 2-core machine with its load under 1.5 (benchmarks/README.md).
AT_A_TIME = 5
#: Seconds a server may take to be ready once asked (JupyterHub's own start_timeout in
#: deploy/jupyterhub_config.py is 120 s; this waits a little longer, then reports it).
TIMEOUT = 180.0
#: The longest wait honoured from a 429's Retry-After.
MAX_RETRY_WAIT = 30.0
TOKEN_VARIABLE = "JUPYTERHUB_API_TOKEN"

READY, ALREADY_RUNNING = "ready", "already running"


class HubAPI:
    """The few REST calls :func:`start_servers` makes, with the token in a header."""

    def __init__(self, hub: str, token: str, timeout: float = 30.0):
        self.base = hub.rstrip("/") + "/hub/api"
        self.token, self.timeout = token, timeout

    def call(self, method: str, path: str, headers: dict | None = None
             ) -> tuple[int, dict, object]:
        """(status, headers, the JSON body or None) of one request; HTTP errors are returned,
        not raised (a 4xx is an answer here)."""
        request = urllib.request.Request(
            self.base + path, method=method, data=b"" if method == "POST" else None,
            headers={"Authorization": f"token {self.token}", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, head, body = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, head, body = error.code, dict(error.headers or {}), error.read()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = body.decode(errors="replace")
        return status, head, data

    def users(self, group: str | None = None) -> list[str]:
        """The names of a group's users, or of every user."""
        if group is not None:
            status, _, data = self.call("GET", f"/groups/{quote(group, safe='')}")
            _raise_for(status, data, f"reading group {group!r}")
            return sorted(data["users"])
        names, offset = [], 0
        while True:
            status, _, data = self.call(
                "GET", f"/users?offset={offset}&limit=200",
                {"Accept": "application/jupyterhub-pagination+json"})
            _raise_for(status, data, "listing the users")
            items = data["items"] if isinstance(data, dict) else data
            names += [user["name"] for user in items]
            following = data.get("_pagination", {}).get("next") if isinstance(data, dict) else None
            if not following:
                return names
            offset = following["offset"]

    def start(self, user: str) -> tuple[int, dict, object]:
        return self.call("POST", f"/users/{quote(user, safe='')}/server")

    def server(self, user: str) -> tuple[int, dict | None, bool]:
        """(status, the default server's model or None, whether a start is pending)."""
        status, _, data = self.call("GET", f"/users/{quote(user, safe='')}")
        if status != 200:
            return status, None, False
        return status, (data.get("servers") or {}).get(""), bool(data.get("pending"))


def _raise_for(status: int, data, doing: str) -> None:
    if status != 200:
        message = data.get("message") if isinstance(data, dict) else data
        raise RuntimeError(f"{doing}: the hub answered {status} {message or ''}".strip())


def check_settings(at_a_time, timeout) -> None:
    """ValueError naming the setting, its value and its range, for a bad one."""
    if not isinstance(at_a_time, int) or isinstance(at_a_time, bool) or not 1 <= at_a_time <= 100:
        raise ValueError(f"at_a_time must be a whole number from 1 to 100; got {at_a_time!r}")
    if not (isinstance(timeout, (int, float)) and 1 <= timeout <= 3600):
        raise ValueError(f"timeout must be from 1 to 3600 seconds; got {timeout!r}")


def start_servers(api: HubAPI, users: Iterable[str], *, at_a_time: int = AT_A_TIME,
                  timeout: float = TIMEOUT, poll: float = 1.0,
                  report: Callable[[str], None] | None = None,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> dict[str, str]:
    """Start each user's default server, at most ``at_a_time`` starting at once, and wait
    until each is ready or has failed. Returns ``{user: outcome}``: ``"ready"``, ``"already
    running"``, or a sentence saying what went wrong (no such user, stopped while starting,
    not ready after ``timeout`` seconds, the hub's answer). ``report`` gets a line for each
    outcome. A 429 (the hub's concurrent spawn limit) puts the user back in the queue and
    waits as long as its Retry-After says (at most 30 s), for at most ``timeout`` seconds."""
    check_settings(at_a_time, timeout)
    queue = list(dict.fromkeys(users))
    outcomes: dict[str, str] = {}
    starting: dict[str, float] = {}  # user -> when asked
    refused: dict[str, float] = {}  # user -> when the hub first answered 429

    def done(user: str, outcome: str) -> None:
        outcomes[user] = outcome
        starting.pop(user, None)
        if report is not None:
            report(f"{user}: {outcome}")

    while queue or starting:
        while queue and len(starting) < at_a_time:
            user = queue.pop(0)
            status, headers, data = api.start(user)
            message = data.get("message", "") if isinstance(data, dict) else str(data or "")
            if status == 429:
                first = refused.setdefault(user, clock())
                if clock() - first > timeout:  # e.g. the hub's active_server_limit is reached
                    done(user, f"failed: the hub still answered 429 after {timeout:g} s "
                               f"({message})")
                    continue
                queue.insert(0, user)
                try:
                    wait = float(headers.get("Retry-After") or 5)
                except ValueError:  # an HTTP date: JupyterHub sends seconds
                    wait = 5.0
                sleep(min(max(wait, poll), MAX_RETRY_WAIT))
                break
            if status == 201:
                done(user, READY)
            elif status == 202:
                starting[user] = clock()
            elif status == 400 and "already running" in message:
                done(user, ALREADY_RUNNING)
            elif status == 400 and "pending" in message:  # someone else started it
                starting[user] = clock()
            elif status == 404:
                done(user, "failed: no such user on the hub")
            else:
                done(user, f"failed: the hub answered {status} {message}".strip())
        if not starting:
            continue
        sleep(poll)
        for user in list(starting):
            status, server, pending = api.server(user)
            if server and server.get("ready"):
                done(user, READY)
            elif status == 200 and not pending and not server:
                done(user, "failed: the server stopped while starting (see the hub's log)")
            elif clock() - starting[user] > timeout:
                done(user, f"failed: not ready after {timeout:g} s")
    return outcomes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marginloops start-servers",
        description="Start a class's servers on a JupyterHub before the lesson, a few at a "
                    f"time. The API token is read from ${TOKEN_VARIABLE}.")
    parser.add_argument("--hub", required=True, help="the hub's address, e.g. https://hub.example.edu")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--group", help="every user of this JupyterHub group")
    who.add_argument("--users", help="user names, separated by commas")
    who.add_argument("--all", action="store_true", help="every user of the hub")
    parser.add_argument("--at-a-time", type=int, default=AT_A_TIME,
                        help=f"servers starting at once (default {AT_A_TIME})")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help=f"seconds a server may take to be ready (default {TIMEOUT:g})")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        print(f"start-servers: set {TOKEN_VARIABLE} to an API token with the scopes list:users, "
              "read:users, read:groups and servers", file=sys.stderr)
        return 2
    if urlsplit(args.hub).scheme not in ("http", "https") or not urlsplit(args.hub).netloc:
        print(f"start-servers: --hub must be an http(s) address; got {args.hub!r}",
              file=sys.stderr)
        return 2
    api = HubAPI(args.hub, token)
    try:
        check_settings(args.at_a_time, args.timeout)  # before asking the hub anything
        users = ([u.strip() for u in args.users.split(",") if u.strip()] if args.users
                 else api.users(args.group))
        began = time.monotonic()
        outcomes = start_servers(api, users, at_a_time=args.at_a_time, timeout=args.timeout,
                                 report=lambda line: print(line, flush=True))
    except ValueError as error:
        print(f"start-servers: {error}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as error:
        print(f"start-servers: {error}", file=sys.stderr)
        return 1
    failed = [u for u, outcome in outcomes.items() if outcome not in (READY, ALREADY_RUNNING)]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} servers running "
          f"({sum(o == ALREADY_RUNNING for o in outcomes.values())} were already) after "
          f"{time.monotonic() - began:.0f} s, {args.at_a_time} at a time"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
