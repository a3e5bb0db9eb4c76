"""Root conftest: loads the shared test harness (fresh database per run, Redis prefixes)."""

pytest_plugins = ["common.testing.plugin"]
