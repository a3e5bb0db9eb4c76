"""Operator commands of the auth service.

    python -m auth_service.cli seed
    python -m auth_service.cli create-admin [--email E] [--password-stdin] [--full-name N]
                                            [--grant-existing]
    python -m auth_service.cli rotate-signing-key
    python -m auth_service.cli create-service-client NAME --permission P [--permission P ...]
    python -m auth_service.cli disable-service-client NAME

Exit status 0 on success, 1 when the command was refused (the reason goes to stderr), 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.services.admins import AdminAccounts
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from auth_service.services.seed import SeedService
from auth_service.services.service_clients import ServiceClientAdmin
from auth_service.services.signing_keys import SigningKeyService
from auth_service.settings import AuthSettings, get_settings
from common.db import Database
from common.errors import DomainError
from common.logging import configure_logging
from common.settings import InsecureSettings

_email = TypeAdapter(EmailStr)


class CommandError(Exception):
    """Refused: the message is for the operator."""


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


async def _with_session(
    settings: AuthSettings, work: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    database = Database(settings)
    try:
        async with database.sessionmaker() as session:
            await work(session)
    finally:
        await database.dispose()


def _read_credentials(args: argparse.Namespace) -> tuple[str, str]:
    email = args.email or input("E-mail: ").strip()
    try:
        email = str(_email.validate_python(email))
    except ValidationError as exc:
        raise CommandError(f"not a valid e-mail address: {email!r}") from exc
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise CommandError("the passwords differ")
    if not password:
        raise CommandError("the password is empty")
    return email, password


async def _create_admin(settings: AuthSettings, args: argparse.Namespace) -> None:
    email, password = _read_credentials(args)
    hasher = PasswordHasher(concurrency=1)
    policy = PasswordPolicy(min_length=settings.password_min_length)

    async def work(session: AsyncSession) -> None:
        await SeedService(session).seed()
        user, created = await AdminAccounts(session, hasher=hasher, policy=policy).create(
            email=email,
            password=password,
            full_name=args.full_name,
            grant_existing=args.grant_existing,
        )
        verb = (
            "created super_admin"
            if created
            else "granted super_admin to existing account (password replaced, sessions ended)"
        )
        _say(f"{verb} {user.email} ({user.id})")

    try:
        await _with_session(settings, work)
    finally:
        hasher.close()


async def _rotate(settings: AuthSettings, _: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> None:
        new_key, retired = await SigningKeyService(session, settings=settings).rotate()
        _say(f"active signing key: {new_key.kid}")
        if retired is not None:
            _say(
                f"retired {retired.kid}; it stays in the JWKS until the tokens it signed "
                f"expire ({settings.access_token_ttl_seconds} s)"
            )

    await _with_session(settings, work)


async def _create_client(settings: AuthSettings, args: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> None:
        admin = ServiceClientAdmin(session, revocations=AccessRevocations())
        client, secret = await admin.create(name=args.name, permissions=args.permission)
        _say(f"client_id: {client.name}")
        _say(f"client_secret: {secret}")
        _say("Store the secret now: only its hash is kept, it cannot be shown again.")

    await _with_session(settings, work)


async def _disable_client(settings: AuthSettings, args: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> None:
        admin = ServiceClientAdmin(session, revocations=AccessRevocations())
        await admin.disable(name=args.name)
        _say(f"disabled {args.name}; its tokens are refused within about a second")

    await _with_session(settings, work)


async def _seed(settings: AuthSettings, _: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> None:
        await SeedService(session).seed()
        kid = await SigningKeyService(session, settings=settings).ensure_active()
        _say(f"roles and permissions seeded; active signing key {kid}")

    await _with_session(settings, work)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m auth_service.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    admin = commands.add_parser("create-admin", help="create a super_admin")
    admin.add_argument("--email", help="asked for when missing")
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line"
    )
    admin.add_argument("--full-name")
    admin.add_argument(
        "--grant-existing",
        action="store_true",
        help="if the address has an account, make it super_admin: its password becomes the "
        "one given here and every session of it ends (refused without this flag)",
    )
    admin.set_defaults(run=_create_admin)

    rotate = commands.add_parser(
        "rotate-signing-key", help="retire the signing key, make a new one"
    )
    rotate.set_defaults(run=_rotate)

    client = commands.add_parser(
        "create-service-client", help="create a client-credentials client; prints its secret"
    )
    client.add_argument("name", help="the client_id, e.g. billing-service")
    client.add_argument("--permission", action="append", default=[], metavar="PERMISSION")
    client.set_defaults(run=_create_client)

    disable = commands.add_parser(
        "disable-service-client", help="refuse a client's secret and revoke its tokens"
    )
    disable.add_argument("name", help="the client_id")
    disable.set_defaults(run=_disable_client)

    seed = commands.add_parser("seed", help="seed roles, permissions and a signing key")
    seed.set_defaults(run=_seed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
    except InsecureSettings as exc:  # the message is the list of what to fix
        sys.stderr.write(f"error: {exc}\n")
        return 1
    configure_logging(settings.model_copy(update={"log_file": None}))
    try:
        asyncio.run(args.run(settings, args))
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except DomainError as exc:
        details = f" {exc.details}" if exc.details else ""
        sys.stderr.write(f"error: {exc.detail}{details}\n")
        return 1
    except (KeyboardInterrupt, EOFError):
        sys.stderr.write("aborted\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
