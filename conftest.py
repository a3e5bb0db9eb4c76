"""Root conftest: loads the shared test harness (fresh database per run, Redis prefixes) and
the headless browser's fixtures.

`gateway.testing` (the gateway's test upstream) is loaded here too, so that `gateway` is the
installed package before pytest imports `gateway/tests/conftest.py`: pytest's importlib mode
would otherwise make the directory `gateway/` the module `gateway`, and `gateway.main` would
not be found."""

pytest_plugins = ["common.testing.plugin", "common.testing.browser", "gateway.testing"]
