"""Headless Chromium for tests of what a person sees in a browser (the docs; any page a service
serves): Debian's `chromium` at /usr/bin/chromium, which `make test` installs
(`scripts/ensure-chromium.sh`), driven by Playwright. Playwright never downloads a browser here.

The browser is offline by construction: it sends everything that is not loopback to a proxy
on a closed loopback port, so such a request fails at once and nothing leaves the machine.
Each page records what a test asserts on (`BrowserPage`): every request it sent outside
127.0.0.1 (`outside`), requests its own Content-Security-Policy refused before they were sent
(`refused`), requests that failed or were answered with an error status (`failed`), and
console errors (a refusal's message among them, each with the URL it is about) and uncaught
exceptions (`errors`). A page that answers a refusal with a 4xx status on purpose (a form sent
back with why) names those answers to `assert_clean`, which then excuses them and the console
error Chromium logs for each.
Playwright's request routing is not used: with it, Playwright answers Chromium's CORS
preflights itself, not the server under test.

Fixtures (registered by the root conftest): `chromium`, one browser per run, launched the
first time a test asks for it; `browser_page`, a fresh context and page per test.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from common.testing.servers import free_port

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Request, Response

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LOOPBACK = "127.0.0.1"
# What Chromium logs for every answer with an error status, the page's own among them.
ERROR_ANSWER_LOGGED = re.compile(
    r"Failed to load resource: the server responded with a status of (\d{3})\b.* \[(\S+)\]"
)


def offline_args() -> list[str]:
    """Chromium's arguments: the usual headless ones, and every request but loopback's (which
    Chromium never sends through a proxy) sent to a proxy that is not there."""
    return [*CHROMIUM_ARGS, f"--proxy-server=http://{LOOPBACK}:{free_port()}"]


@dataclass
class BrowserPage:
    """A page and what it did: see the module's docstring."""

    page: Page
    outside: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self) -> None:
        # The context's requests: the page's, its workers' and any window it opens.
        self.page.context.on("request", self._requested)
        self.page.context.on("requestfailed", self._request_failed)
        self.page.context.on("response", self._answered)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _requested(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LOOPBACK:
            self.outside.append(request.url)

    def _request_failed(self, request: Request) -> None:
        if request.failure == "csp":  # refused by the page's policy: it never left the browser
            self.refused.append(request.url)
            if request.url in self.outside:
                self.outside.remove(request.url)
        else:
            self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def _answered(self, response: Response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.request.method} {response.url}: {response.status}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            source = message.location.get("url")
            self.errors.append(f"{message.text} [{source}]" if source else message.text)

    def assert_clean(
        self, *, refused: Sequence[str] = (), error_answers: Sequence[str] = ()
    ) -> None:
        """Nothing was sent outside loopback, nothing failed, nothing was logged as an error;
        except that the page's Content-Security-Policy refused exactly `refused` (and said so
        on the console), and that exactly `error_answers` (`METHOD URL: status`, as `failed`
        has them) came with an error status (which Chromium logs on the console too)."""
        assert self.outside == [], f"requests outside 127.0.0.1: {self.outside}"
        assert sorted(self.failed) == sorted(error_answers), f"failed requests: {self.failed}"
        assert sorted(self.refused) == sorted(refused), f"refused by the CSP: {self.refused}"
        answered = {answer.split(" ", 1)[1] for answer in error_answers}  # URL: status
        errors = [
            text
            for text in self.errors
            if not any(url in text for url in refused) and _error_answer(text) not in answered
        ]
        assert errors == [], f"console errors: {errors}"


def _error_answer(console_error: str) -> str | None:
    """`URL: status` of the answer a console error reports, if it reports one."""
    logged = ERROR_ANSWER_LOGGED.fullmatch(console_error)
    return f"{logged[2]}: {logged[1]}" if logged else None


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (scripts/ensure-chromium.sh), "
            "or run `apt-get install -y chromium` as root"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def chromium(chromium_path: Path) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless and offline, for the whole run."""
    # Imported here: Playwright takes most of a second to import, which only the runs that
    # use the browser should pay.
    from playwright.async_api import async_playwright  # noqa: PLC0415

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=offline_args(), headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser_page(chromium: Browser) -> AsyncIterator[BrowserPage]:
    """A page in a context of its own (no cookies or storage from another test), watched."""
    context = await chromium.new_context()
    try:
        watched = BrowserPage(await context.new_page())
        watched.watch()
        yield watched
    finally:
        await context.close()
