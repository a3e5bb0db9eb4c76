"""The limits the auth service puts on attempts, on top of the `Throttle` mechanism.

- Logins (and password changes, which check a password the same way): failures per account
  and per client address. An attempt reserves its place before the password is hashed; a
  success clears the account's failures and gives the address its hit back.
- Requests for a mailed link (password reset, e-mail verification): per client address (429
  above the limit) and per e-mail address (requests beyond the cap are dropped silently: the
  answer must stay the same).
- Registrations per client address (429).
- Failed client-credentials per client address (429): secrets are 256 random bits, so this
  only keeps the token endpoint from being used as a free oracle and the audit trail small.
"""

from __future__ import annotations

from auth_service.services.throttle import Check, Limit, Refused, Throttle, email_key
from common.context import current_client


class LoginAttempts:
    def __init__(
        self,
        throttle: Throttle,
        *,
        max_per_account: int,
        max_per_ip: int,
        window_seconds: int,
        prefix: str = "login",
    ) -> None:
        self.throttle = throttle
        self.account = Limit(f"{prefix}-account", max_per_account, window_seconds)
        self.ip = Limit(f"{prefix}-ip", max_per_ip, window_seconds)

    def _checks(self, email: str) -> list[Check]:
        return [(self.account, email_key(email)), (self.ip, current_client().bucket)]

    async def reserve(self, email: str) -> Refused | None:
        """Count the attempt as a failure in advance, or say why it is refused."""
        outcome = await self.throttle.reserve(self._checks(email))
        return outcome if isinstance(outcome, Refused) else None

    async def succeeded(self, email: str) -> None:
        account, ip = self._checks(email)
        await self.throttle.release([ip], clear=[account])

    async def cancel(self, email: str) -> None:
        """The attempt never got to its password check (shed, or the database failed)."""
        await self.throttle.release(self._checks(email))


class MailRequests:
    """Requests for a mailed link (reset, verification), per kind."""

    def __init__(self, throttle: Throttle, *, max_per_address: int, prefix: str) -> None:
        self.throttle = throttle
        self.address = Limit(f"{prefix}-address", max_per_address, 3600)
        self.ip = Limit(f"{prefix}-ip", max_per_address * 10, 3600)

    async def reserve_for_address(self, email: str) -> bool:
        """Whether a mail to this address may go out (no per-client check: for a request
        whose client is limited elsewhere and whose answer must not change)."""
        return not isinstance(
            await self.throttle.reserve([(self.address, email_key(email))]), Refused
        )

    async def reserve(self, email: str) -> Refused | bool:
        """Refused for the client address (answer 429), else whether a mail may go out."""
        by_ip = await self.throttle.reserve([(self.ip, current_client().bucket)])
        if isinstance(by_ip, Refused):
            return by_ip
        by_address = await self.throttle.reserve([(self.address, email_key(email))])
        return not isinstance(by_address, Refused)


class AddressLimit:
    """One counter per client address: registrations, failed client credentials."""

    def __init__(self, throttle: Throttle, limit: Limit) -> None:
        self.throttle = throttle
        self.limit = limit

    async def reserve(self) -> Refused | None:
        outcome = await self.throttle.reserve([(self.limit, current_client().bucket)])
        return outcome if isinstance(outcome, Refused) else None

    async def release(self) -> None:
        await self.throttle.release([(self.limit, current_client().bucket)])
