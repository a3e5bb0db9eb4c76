"""The OAuth2 token endpoint (RFC 6749): one request, three grants. Which grant and which of its
parameters are required is decided here, not in the route."""

from __future__ import annotations

from dataclasses import dataclass

from auth_service.exceptions import InvalidClient, MissingGrantParameter, UnsupportedGrantType
from auth_service.services.access_tokens import SessionTokens
from auth_service.services.client_credentials import ClientCredentialsService
from auth_service.services.login import LoginService
from auth_service.services.sessions import SessionService
from auth_service.services.tokens import AccessToken


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """The form of `POST /auth/token`; client credentials from HTTP Basic, when sent, win over
    the form's."""

    grant_type: str
    username: str | None = None
    password: str | None = None
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class TokenGrants:
    def __init__(
        self,
        *,
        logins: LoginService,
        sessions: SessionService,
        clients: ClientCredentialsService,
    ) -> None:
        self.logins = logins
        self.sessions = sessions
        self.clients = clients

    async def grant(self, request: TokenRequest) -> SessionTokens | AccessToken:
        if request.grant_type == "password":
            if not request.username or not request.password:
                raise MissingGrantParameter("username and password are required.")
            return await self.logins.login(
                email=request.username.lower(), password=request.password
            )
        if request.grant_type == "refresh_token":
            if not request.refresh_token:
                raise MissingGrantParameter("refresh_token is required.")
            return await self.sessions.refresh(refresh_token=request.refresh_token)
        if request.grant_type == "client_credentials":
            if not request.client_id or not request.client_secret:
                raise InvalidClient
            return await self.clients.token(
                client_id=request.client_id, client_secret=request.client_secret
            )
        raise UnsupportedGrantType
