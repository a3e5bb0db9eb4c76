"""The HTML of the account pages (served by `routes/pages.py` with ACCOUNT_PAGES_ENABLED): a form
that sets a new password with a reset token, and a button that confirms an e-mail address.

A backend template has no front end, so these let the mailed links be followed in a browser.
They are plain semantic HTML, unstyled but for one inline `<style>`, and work without JavaScript:
no script, no image, nothing from another origin. Their Content-Security-Policy allows exactly
that (the style by its hash, forms posting to this origin); the middleware leaves a response's
own policy in place (`common.middleware.with_security_headers`), so no per-path rule is needed.

The token arrives in the link's query string, so the answers also forbid caching and referrers:
the pages load and link nothing, and the forms post the token in the body to a URL without it
(decision 0016, `docs/decisions/`).

Stable hooks for browser tests: forms `#reset-password-form` (fields `#account-email`, read-only,
`#new-password`, `#confirm-password`) and `#verify-email-form` (the address in
`#account-email`), their button `#submit`, and `#result`, present
once there is an outcome, with `data-outcome` (`success` or `error`) and `data-code` (the error's
code, as the JSON API answers it, or `password_reset` / `email_verified` on success).
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Final, Literal

from fastapi.responses import HTMLResponse

from auth_service.settings import RESET_PAGE, VERIFICATION_PAGE
from common.context import get_request_id
from common.errors import DomainError

STYLE: Final = (
    "body{font-family:system-ui,sans-serif;line-height:1.5;max-width:32rem;margin:2rem auto;"
    "padding:0 1rem}label,input,button{display:block}"
    "input{box-sizing:border-box;width:100%;margin:.25rem 0 1rem}"
    "[data-outcome=error]{color:#b00020}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY: Final = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

RESET_DONE: Final = "password_reset"
EMAIL_VERIFIED: Final = "email_verified"


def reset_form(
    token: str, *, email: str, min_length: int, error: DomainError | None = None
) -> HTMLResponse:
    """The new-password form, again with `error`'s message when the last try was refused. The
    read-only account field lets password managers file the new password under the account."""
    form = f"""<form id="reset-password-form" method="post" action="{RESET_PAGE}">
<input type="hidden" name="token" value="{escape(token)}">
<label for="account-email">Account</label>
<input id="account-email" name="username" type="email" autocomplete="username"
 value="{escape(email)}" readonly>
<label for="new-password">New password</label>
<input id="new-password" name="new_password" type="password" autocomplete="new-password" required
 aria-describedby="password-rule">
<p id="password-rule">At least {min_length} characters, and not a common password.</p>
<label for="confirm-password">The same password again</label>
<input id="confirm-password" name="confirm_password" type="password"
 autocomplete="new-password" required>
<button id="submit" type="submit">Set the new password</button>
</form>"""
    return _page("Choose a new password", _error(error), form, error=error)


def reset_refused(error: DomainError) -> HTMLResponse:
    """The link cannot set a password (unknown, used or expired token): no form, just why."""
    advice = "<p>Ask for a new password-reset link and use the newest mail.</p>"
    return _page("Choose a new password", _error(error), advice, error=error)


def reset_done() -> HTMLResponse:
    message = (
        "Your password has been changed. Every session of the account has been signed out: "
        "sign in again with the new password."
    )
    return _page("Password changed", _result("success", RESET_DONE, message))


def verification_form(token: str, *, email: str) -> HTMLResponse:
    """A button, not a side effect of opening the link: mail scanners open links too."""
    address = f'<strong id="account-email">{escape(email)}</strong>'
    form = f"""<p>Confirm that {address} is your address.</p>
<form id="verify-email-form" method="post" action="{VERIFICATION_PAGE}">
<input type="hidden" name="token" value="{escape(token)}">
<button id="submit" type="submit">Confirm my address</button>
</form>"""
    return _page("Confirm your e-mail address", form)


def verification_refused(error: DomainError) -> HTMLResponse:
    advice = "<p>Ask for a new verification link and use the newest mail.</p>"
    return _page("Confirm your e-mail address", _error(error), advice, error=error)


def verification_done() -> HTMLResponse:
    message = "Your e-mail address is confirmed."
    return _page("Address confirmed", _result("success", EMAIL_VERIFIED, message))


def _error(error: DomainError | None) -> str:
    if error is None:
        return ""
    return _result("error", error.code, error.detail)


def _result(outcome: Literal["success", "error"], code: str, message: str) -> str:
    role = "status" if outcome == "success" else "alert"
    detail = ""
    if outcome == "error":
        request_id = escape(get_request_id() or "-")
        detail = f" <small>(error <code>{escape(code)}</code>, request {request_id})</small>"
    return (
        f'<p id="result" role="{role}" data-outcome="{outcome}" data-code="{escape(code)}">'
        f"{escape(message)}{detail}</p>"
    )


def _page(title: str, *parts: str, error: DomainError | None = None) -> HTMLResponse:
    body = "\n".join(part for part in parts if part)
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{escape(title)}</h1>
{body}
</main>
</body>
</html>
"""
    status = 200 if error is None else error.status_code
    headers = {**(error.headers if error is not None else {}), **HEADERS}
    return HTMLResponse(html, status_code=status, headers=headers)
