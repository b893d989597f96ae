"""The hub tests import hubharness.py from this folder (under any --import-mode).

Tests that start a real JupyterHub are marked ``hub`` (run them alone with ``-m hub``, skip
them with ``-m "not hub"``); they also drive Chromium, so they are marked ``browser`` too.
"""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "hub: starts a real JupyterHub on 127.0.0.1 (needs jupyterhub and the npm proxy)")
    config.addinivalue_line(
        "markers",
        "browser: drives Chromium against JupyterLab or Voilà (needs /usr/bin/chromium)")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path in (HERE / "test_hub_small.py", HERE / "test_voila_small.py"):
            item.add_marker(pytest.mark.hub)
            item.add_marker(pytest.mark.browser)
        elif item.path == HERE / "test_start_servers.py":
            item.add_marker(pytest.mark.hub)
