"""Creating an account.

With REQUIRE_EMAIL_VERIFICATION off, registration answers 201 with the account, or 409
`email_taken`: it tells whoever asks whether an address has an account (documented in the
README). With it on, every registration answers the same 202, new address or not, after the
same work (the password is hashed either way): a new account gets a verification link, the
owner of an existing one is told that someone tried, and sign-in waits for the link. Either way
the new account is sent a verification link, registrations are limited per client address, and
a hashing queue that is too long answers 429 at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import RoleRepository, UserRepository
from auth_service.exceptions import EmailTaken
from auth_service.models import Role, User
from auth_service.schemas import RegisterRequest
from auth_service.services.attempts import AddressLimit, MailRequests
from auth_service.services.mail_requests import queue_quietly
from auth_service.services.notifications import AccountMail, MailQueue
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from common.audit import anonymous, user_actor
from common.errors import RateLimited
from common.permissions import DEFAULT_ROLE


@dataclass(frozen=True, slots=True)
class Registration:
    """What to answer: the new account (201), or only that a link is on its way (202) when
    the answer must not tell new addresses from existing ones."""

    user: User | None
    confirm_by_mail: bool


class RegistrationService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        limits: AddressLimit,
        notices: MailRequests,
        queue: MailQueue,
        require_verification: bool,
    ) -> None:
        self.session = session
        self.hasher = hasher
        self.policy = policy
        self.limits = limits
        self.notices = notices
        self.users = UserRepository(session)
        self.roles = RoleRepository(session)
        self.queue = queue
        self.require_verification = require_verification

    async def register(self, *, data: RegisterRequest) -> Registration:
        refused = await self.limits.reserve()
        if refused is not None:
            raise RateLimited(retry_after=refused.retry_after)
        self.policy.check(data.password, email=data.email)
        taken = await self.users.get_by_email(data.email) is not None
        if taken and not self.require_verification:
            raise EmailTaken
        default_role = await self.roles.get_by_name(DEFAULT_ROLE)
        await self.session.commit()  # release the connection while hashing
        password_hash = await self.hasher.hash(data.password)  # for a taken address too
        user = None if taken else await self._create(data, password_hash, default_role)
        if user is None:
            await self._attempted(data.email)
            return Registration(user=None, confirm_by_mail=True)
        await queue_quietly(self.queue, AccountMail.EMAIL_VERIFICATION, user.email)
        return Registration(user=user, confirm_by_mail=self.require_verification)

    async def _create(
        self,
        data: RegisterRequest,
        password_hash: str,
        default_role: Role | None,
    ) -> User | None:
        """The new account; None if a concurrent registration took the address (then it is
        refused, or answered like any taken address)."""
        roles = [default_role] if default_role is not None else []
        user = User(
            id=uuid.uuid4(),
            email=data.email,
            full_name=data.full_name,
            password_hash=password_hash,
            roles=roles,
        )
        self.users.add(user)
        recorder.record(
            self.session,
            action=Action.USER_REGISTERED,
            actor=user_actor(user.id),
            resource=user_resource(user.id),
        )
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            if not self.require_verification:
                raise EmailTaken from exc
            return None
        return user

    async def _attempted(self, email: str) -> None:
        recorder.record(
            self.session,
            action=Action.REGISTRATION_ATTEMPTED,
            actor=anonymous(),
            metadata={"email": email},
        )
        await self.session.commit()
        # Capped per address like reset mails: registering someone's address over and over
        # must not flood their inbox.
        if await self.notices.reserve_for_address(email):
            await queue_quietly(self.queue, AccountMail.REGISTRATION_ATTEMPT, email)
