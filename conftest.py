"""Root conftest: loads the shared test harness (fresh database per run, Redis prefixes) and
the headless browser's fixtures."""

pytest_plugins = ["common.testing.plugin", "common.testing.browser"]
