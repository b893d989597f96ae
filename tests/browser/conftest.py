"""Fixtures for real-browser tests: JupyterLab and Voilà servers, Chromium and a watched page.

Every test in this folder is marked ``browser`` (run them alone with ``-m browser``, skip them
with ``-m "not browser"``). The helpers that drive notebooks live in ``labtools.py``.
"""

import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # lets tests `import labtools` under any --import-mode
    sys.path.insert(0, str(HERE))

import labtools  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives Chromium against JupyterLab or Voilà (needs /usr/bin/chromium)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the server logs and page errors, and save a screenshot."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name, value in funcargs.items():  # lab_server, voila_server, a module's own
            if isinstance(value, labtools.Server):
                report.sections.append((f"{name} log (tail)", value.log_tail()))
        if "page_log" in funcargs:
            log = funcargs["page_log"]
            report.sections.append(("page errors", "\n".join(log.errors) or "none"))
        if report.when == "call" and "page" in funcargs:
            try:
                shot = str(labtools.save_screenshot(funcargs["page"], f"FAILED-{item.name}"))
            except Exception as err:  # a crashed page must not hide the test's own failure
                shot = f"could not take a screenshot: {err}"
            report.sections.append(("screenshot", shot))
    return report


#: The session servers the collected tests use (set at collection), by fixture name.
_SESSION_SERVERS = {"lab_server": labtools.launch_lab, "voila_server": labtools.launch_voila}
_needed_servers: list[str] = []


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Note which session servers the selected browser tests use."""
    used = {name for item in session.items if HERE in item.path.parents
            for name in getattr(item, "fixturenames", ())}
    _needed_servers[:] = [name for name in _SESSION_SERVERS if name in used]


@pytest.fixture(scope="session", autouse=True)
def _session_servers(tmp_path_factory):
    """Launch every session server the selected tests use, at once, before the first browser
    test: they boot side by side (and beside Chromium's launch) instead of one after another
    when first asked for. ``lab_server`` and ``voila_server`` wait for theirs to serve."""
    servers = {name: _SESSION_SERVERS[name](tmp_path_factory.mktemp(name.split("_")[0]))
               for name in _needed_servers}
    yield servers
    for server in servers.values():
        server.stop()


def _session_server(servers, name, tmp_path_factory):
    if name not in servers:  # asked for by a test not seen at collection (a plugin's?)
        servers[name] = _SESSION_SERVERS[name](tmp_path_factory.mktemp(name.split("_")[0]))
    return servers[name].wait_ready()


@pytest.fixture(scope="session")
def lab_server(_session_servers, tmp_path_factory):
    """A JupyterLab server (``labtools.Server``) serving a scratch folder, for the session."""
    return _session_server(_session_servers, "lab_server", tmp_path_factory)


@pytest.fixture(scope="session")
def voila_server(_session_servers, tmp_path_factory):
    """A Voilà server (``labtools.Server``) serving a scratch folder, for the session."""
    return _session_server(_session_servers, "voila_server", tmp_path_factory)


@pytest.fixture(autouse=True)
def _shutdown_lab_kernels(request):
    """After a test that used JupyterLab, shut down the kernels it started: without waiting
    for them to end (``labtools.shutdown_kernels_soon``); the next notebook opened waits."""
    yield
    if "lab_server" in request.fixturenames:
        labtools.shutdown_kernels_soon(request.getfixturevalue("lab_server"))


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; fails (never skips) if it is missing."""
    if not labtools.CHROMIUM.exists():
        pytest.fail(
            f"{labtools.CHROMIUM} not found: browser tests need Debian's chromium package "
            "(apt-get install -y chromium); Playwright cannot download a browser here.",
            pytrace=False,
        )
    expect.set_options(timeout=labtools.TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=labtools.CHROMIUM, headless=True, args=labtools.CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page_log():
    """The ``labtools.PageLog`` of the test's ``page``: its errors and the URLs it was denied."""
    return labtools.PageLog()


@pytest.fixture
def page(browser, page_log):
    """A fresh page in its own browser context; errors go to ``page_log``, remote requests fail."""
    context = browser.new_context(viewport={"width": 1280, "height": 1024})
    context.set_default_timeout(labtools.TIMEOUT_MS)
    page = context.new_page()
    page_log.watch(page)
    yield page
    context.close()
