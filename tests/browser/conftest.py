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
        for name in ("lab_server", "voila_server"):
            if name in funcargs:
                report.sections.append((f"{name} log (tail)", funcargs[name].log_tail()))
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


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """A JupyterLab server (``labtools.Server``) serving a scratch folder, for the session."""
    server = labtools.start_lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory):
    """A Voilà server (``labtools.Server``) serving a scratch folder, for the session."""
    server = labtools.start_voila(tmp_path_factory.mktemp("voila"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _shutdown_lab_kernels(request):
    """After a test that used JupyterLab, shut down the kernels it started."""
    yield
    if "lab_server" in request.fixturenames:
        labtools.shutdown_kernels(request.getfixturevalue("lab_server"))


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
