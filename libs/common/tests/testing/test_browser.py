"""`browser_page`: Debian's Chromium, headless and offline, recording what a page attempted
outside loopback, what failed and what it logged as errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from common.testing import serve_app
from common.testing.browser import BrowserPage

# Only reserved addresses (RFC 5737, RFC 3849) and a CDN: none of them is ever reached.
OUTSIDE = (
    "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js",
    "http://192.0.2.7/style.css",
    "http://[2001:db8::1]/image.png",
)
CALLS_HOME = f"""<!doctype html><html><head>
<script src="{OUTSIDE[0]}"></script><link rel="stylesheet" href="{OUTSIDE[1]}">
</head><body><img src="{OUTSIDE[2]}" alt=""><p id="greeting">offline</p></body></html>"""
LOCAL = """<!doctype html><html><head><title>local</title><link rel="icon" href="data:,">
</head><body>
<p id="greeting">here</p><script src="/script.js"></script></body></html>"""


async def calls_home(request: Request) -> HTMLResponse:
    return HTMLResponse(CALLS_HOME)


async def local(request: Request) -> HTMLResponse:
    return HTMLResponse(LOCAL)


async def script(request: Request) -> HTMLResponse:
    return HTMLResponse("document.title = 'ran';", media_type="text/javascript")


async def missing(request: Request) -> JSONResponse:
    return JSONResponse({"error": "nope"}, status_code=404)


app = Starlette(
    routes=[
        Route("/calls-home", calls_home),
        Route("/local", local),
        Route("/script.js", script),
        Route("/missing", missing),
    ]
)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serve_app(app) as url:
        yield url


class TestBrowserPage:
    async def test_a_local_page_loads_and_runs_its_scripts(
        self, browser_page: BrowserPage, base_url: str
    ) -> None:
        await browser_page.page.goto(f"{base_url}/local")

        assert await browser_page.page.title() == "ran"
        assert await browser_page.page.text_content("#greeting") == "here"
        browser_page.assert_clean()

    async def test_requests_outside_loopback_are_recorded_and_never_reach_anything(
        self, browser_page: BrowserPage, base_url: str
    ) -> None:
        await browser_page.page.goto(f"{base_url}/calls-home", wait_until="load")

        assert sorted(browser_page.outside) == sorted(OUTSIDE)
        assert len(browser_page.failed) == len(OUTSIDE)
        assert all("ERR_PROXY_CONNECTION_FAILED" in line for line in browser_page.failed)
        with pytest.raises(AssertionError, match=r"requests outside 127\.0\.0\.1"):
            browser_page.assert_clean()

    async def test_an_error_answer_counts_as_a_failed_request(
        self, browser_page: BrowserPage, base_url: str
    ) -> None:
        await browser_page.page.goto(f"{base_url}/missing")

        assert browser_page.failed == [f"GET {base_url}/missing: 404"]
        assert browser_page.outside == []

    async def test_an_error_answer_named_as_expected_is_clean_with_its_console_error(
        self, browser_page: BrowserPage, base_url: str
    ) -> None:
        await browser_page.page.goto(f"{base_url}/missing")

        [logged] = browser_page.errors
        assert logged.startswith("Failed to load resource: the server responded with a status")
        assert logged.endswith(f"[{base_url}/missing]")
        browser_page.assert_clean(error_answers=[f"GET {base_url}/missing: 404"])

    @pytest.mark.parametrize(
        "expected",
        [
            [],
            ["GET {base_url}/missing: 400"],
            ["GET {base_url}/missing: 404", "GET {base_url}/: 404"],
        ],
        ids=["none", "another-status", "one-more"],
    )
    async def test_only_exactly_the_expected_error_answers_are_clean(
        self, browser_page: BrowserPage, base_url: str, expected: list[str]
    ) -> None:
        await browser_page.page.goto(f"{base_url}/missing")

        with pytest.raises(AssertionError, match="failed requests"):
            browser_page.assert_clean(
                error_answers=[answer.format(base_url=base_url) for answer in expected]
            )
