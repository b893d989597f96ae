"""marginloops.hubstart: a class's servers started before the lesson, a few at a time.

The logic is tested against a fake hub with a fake clock (every answer of the REST API it
handles: 201, 202, 400 already running, 404, 429 with Retry-After, a server that stops while
starting, one that never gets ready); the HTTP side against a small HTTP server on 127.0.0.1
that answers as JupyterHub's handlers do; the whole thing against a real JupyterHub in
tests/hub (the harness's ``prestart``).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marginloops.cli import main as cli_main
from marginloops.hubstart import ALREADY_RUNNING, READY, HubAPI, start_servers


class FakeHub:
    """Answers start() and server() as JupyterHub does; a server is ready after ``polls`` reads
    of its user (default 2); ``throttle``: the first n starts get a 429."""

    def __init__(self, polls=None, running=(), missing=(), stops=(), never=(), throttle=0,
                 retry_after="7"):
        self.polls, self.running = dict(polls or {}), set(running)
        self.missing, self.stops, self.never = set(missing), set(stops), set(never)
        self.throttle, self.retry_after = throttle, retry_after
        self.starting: dict[str, int] = {}
        self.starts: list[str] = []
        self.most_at_once = 0

    def start(self, user):
        if self.throttle:
            self.throttle -= 1
            return 429, {"Retry-After": self.retry_after}, {"message": "Too many users"}
        self.starts.append(user)
        if user in self.missing:
            return 404, {}, {"message": "Not Found"}
        if user in self.running:
            return 400, {}, {"message": f"{user}'s server is already running"}
        self.starting[user] = 0
        self.most_at_once = max(self.most_at_once, len(self.starting))
        return 202, {}, None

    def server(self, user):
        self.starting[user] += 1
        if user in self.stops:
            del self.starting[user]
            return 200, None, False
        if user not in self.never and self.starting[user] >= self.polls.get(user, 2):
            del self.starting[user]
            self.running.add(user)
            return 200, {"ready": True}, False
        return 200, {"ready": False}, True


class Clock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def run(hub, users, **kwargs):
    clock = Clock()
    lines = []
    outcomes = start_servers(hub, users, clock=clock, sleep=clock.sleep, report=lines.append,
                             **kwargs)
    return outcomes, lines, clock


def test_at_most_at_a_time_start_at_once_and_every_server_ends_ready():
    users = [f"s{i:02d}" for i in range(12)]
    hub = FakeHub(polls={u: 1 + i % 4 for i, u in enumerate(users)})
    outcomes, lines, _ = run(hub, users, at_a_time=3)
    assert outcomes == dict.fromkeys(users, READY)
    assert hub.most_at_once == 3
    assert sorted(hub.starts) == users and len(hub.starts) == 12  # each asked once
    assert len(lines) == 12 and all(line.endswith(": ready") for line in lines)


def test_a_slot_is_reused_as_soon_as_a_server_is_ready():
    # s0 is ready after one read, s1 after ten: with two at a time, s2 starts before s1 is ready
    hub = FakeHub(polls={"s0": 1, "s1": 10, "s2": 1})
    outcomes, _, _ = run(hub, ["s0", "s1", "s2"], at_a_time=2)
    assert outcomes == {"s0": READY, "s1": READY, "s2": READY}
    assert list(outcomes) == ["s0", "s2", "s1"]  # in the order they became ready


def test_running_servers_missing_users_and_duplicates():
    hub = FakeHub(running={"a"}, missing={"ghost"})
    outcomes, _, _ = run(hub, ["a", "b", "ghost", "b"], at_a_time=1)
    assert outcomes == {"a": ALREADY_RUNNING, "b": READY,
                        "ghost": "failed: no such user on the hub"}
    assert hub.starts == ["a", "b", "ghost"]


def test_a_429_is_retried_after_its_retry_after():
    hub = FakeHub(throttle=2, retry_after="7")
    outcomes, _, clock = run(hub, ["a", "b"], at_a_time=5, poll=1.0)
    assert outcomes == {"a": READY, "b": READY}
    assert clock.sleeps[:2] == [7.0, 7.0]  # waited as told, twice, before a started
    assert hub.starts == ["a", "b"]


def test_a_long_retry_after_is_capped():
    hub = FakeHub(throttle=1, retry_after="600")
    _, _, clock = run(hub, ["a"])
    assert clock.sleeps[0] == 30.0


def test_a_hub_that_keeps_refusing_fails_the_user_after_the_timeout():
    # e.g. JupyterHub's active_server_limit: 429 "Active user limit exceeded", every time
    hub = FakeHub(throttle=10**6, retry_after="")
    outcomes, _, clock = run(hub, ["a", "b"], timeout=60)
    assert outcomes["a"].startswith("failed: the hub still answered 429 after 60 s")
    assert outcomes["b"].startswith("failed: the hub still answered 429 after 60 s")
    assert set(clock.sleeps) == {5.0}  # no Retry-After: 5 s between tries
    assert 120 < clock.now <= 135  # each user given its 60 s, no more


def test_a_server_that_stops_or_never_gets_ready_is_reported_failed():
    hub = FakeHub(stops={"x"}, never={"y"})
    outcomes, _, clock = run(hub, ["x", "y", "z"], at_a_time=3, timeout=30, poll=1.0)
    assert outcomes["x"].startswith("failed: the server stopped while starting")
    assert outcomes["y"] == "failed: not ready after 30 s"
    assert outcomes["z"] == READY
    assert 30 < clock.now <= 32  # gave up on y just after its timeout, no sooner


@pytest.mark.parametrize("kwargs, message", [
    ({"at_a_time": 0}, "at_a_time must be a whole number from 1 to 100; got 0"),
    ({"at_a_time": True}, "at_a_time must be a whole number from 1 to 100; got True"),
    ({"at_a_time": 2.5}, "at_a_time must be a whole number from 1 to 100; got 2.5"),
    ({"timeout": 0}, "timeout must be from 1 to 3600 seconds; got 0"),
])
def test_bad_settings_are_a_value_error_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        start_servers(FakeHub(), ["a"], **kwargs)


def test_no_users_is_nothing_to_do():
    assert run(FakeHub(), [])[0] == {}


# ------------------------------------------------------------------ over HTTP, as JupyterHub
class _Handler(BaseHTTPRequestHandler):
    """JupyterHub's REST answers for three users of group "students" (a and b) and c."""

    state: dict = {}

    def log_message(self, *args):
        pass

    def _send(self, status, body=None, headers=()):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.state["auth"].add(self.headers.get("Authorization"))
        if self.path == "/hub/api/groups/students":
            return self._send(200, {"name": "students", "users": ["b", "a"]})
        if self.path == "/hub/api/groups/nobody":
            return self._send(404, {"status": 404, "message": "No such group: nobody"})
        if self.path.startswith("/hub/api/users?"):
            assert self.headers["Accept"] == "application/jupyterhub-pagination+json"
            if "offset=0" in self.path:
                return self._send(200, {"items": [{"name": "a"}, {"name": "b"}],
                                        "_pagination": {"offset": 0, "limit": 2, "total": 3,
                                                        "next": {"offset": 2, "limit": 2}}})
            return self._send(200, {"items": [{"name": "c"}],
                                    "_pagination": {"offset": 2, "limit": 2, "total": 3,
                                                    "next": None}})
        user = self.path.rsplit("/", 1)[1]
        reads = self.state["reads"][user] = self.state["reads"].get(user, 0) + 1
        ready = reads >= 2
        return self._send(200, {"name": user, "pending": None if ready else "spawn",
                                "servers": {"": {"ready": ready}}})

    def do_POST(self):
        user = self.path.split("/")[-2]
        if user == "c" and not self.state["throttled"]:
            self.state["throttled"] = True
            return self._send(429, {"status": 429, "message": "Too many users trying to log in "
                                    "right now. Try again in 10 seconds."},
                              [("Retry-After", "1")])
        return self._send(202)


@pytest.fixture
def fake_hub():
    _Handler.state = {"auth": set(), "reads": {}, "throttled": False}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_hub_api_reads_groups_pages_of_users_and_a_429s_header(fake_hub):
    api = HubAPI(fake_hub + "/", "secret")
    assert api.users("students") == ["a", "b"]
    assert api.users() == ["a", "b", "c"]  # both pages
    with pytest.raises(RuntimeError, match="reading group 'nobody': the hub answered 404 "
                                           "No such group: nobody"):
        api.users("nobody")
    status, headers, data = api.start("c")
    assert status == 429 and headers["Retry-After"] == "1" and "Too many" in data["message"]
    assert _Handler.state["auth"] == {"token secret"}


def test_the_command_starts_a_group_and_says_how_it_went(fake_hub, monkeypatch, capsys):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret")
    assert cli_main(["start-servers", "--hub", fake_hub, "--all", "--at-a-time", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(out[:3]) == ["a: ready", "b: ready", "c: ready"]
    assert out[3].startswith("3 of 3 servers running (0 were already) after ")
    assert out[3].endswith(" s, 2 at a time")


@pytest.mark.parametrize("argv, env, message", [
    (["--hub", "http://h", "--all"], "", "set JUPYTERHUB_API_TOKEN to an API token"),
    (["--hub", "ftp://h", "--all"], "t", "--hub must be an http(s) address; got 'ftp://h'"),
    (["--hub", "http://h", "--users", "a", "--at-a-time", "0"], "t",
     "at_a_time must be a whole number from 1 to 100; got 0"),
    (["--hub", "http://127.0.0.1:9", "--all", "--timeout", "0"], "t",
     "timeout must be from 1 to 3600 seconds; got 0.0"),  # said before the hub is asked
    (["--hub", "http://h"], "t", "one of the arguments --group --users --all is required"),
])
def test_the_commands_mistakes_are_one_line_and_exit_2(argv, env, message, monkeypatch, capsys):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", env)
    assert cli_main(["start-servers", *argv]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_hub_is_exit_1_with_the_reason(monkeypatch, capsys):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "t")
    assert cli_main(["start-servers", "--hub", "http://127.0.0.1:9", "--group", "x"]) == 1
    assert capsys.readouterr().err.startswith("start-servers: ")
