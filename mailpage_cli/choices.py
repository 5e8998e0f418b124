"""The fixed words of the contract that flags and settings share (SPEC "Commands" and
"Settings"). Tiny on purpose: the command line imports it at start-up.

Each set of words is a ``Literal`` type for the code and, derived from it so the two cannot
drift, a tuple for ``click.Choice`` and the settings parsers."""

from typing import Literal, get_args

Security = Literal["ssl", "starttls", "none"]
SmtpAuth = Literal["password", "oauth2"]
OAuthProvider = Literal["microsoft", "google"]
OAuthFlow = Literal["device", "client-credentials", "browser", "service-account"]
Auth = Literal["basic", "bearer", "oauth2"]  # oauth2: a service account's client credentials
Deployment = Literal["cloud", "datacenter"]
ExternalImages = Literal["link", "embed"]
Forget = Literal["smtp", "confluence", "directory", "all"]
# What a send did: the "status" that --json reports.
Status = Literal["sent", "partial", "refused", "dry-run", "saved", "unchanged", "empty"]
# How bad a finding of `mailpage lint` is (its "severity" in --json).
Severity = Literal["error", "warning"]

SECURITY: tuple[Security, ...] = get_args(Security)
SMTP_AUTH: tuple[SmtpAuth, ...] = get_args(SmtpAuth)
OAUTH_PROVIDERS: tuple[OAuthProvider, ...] = get_args(OAuthProvider)
OAUTH_FLOWS: tuple[OAuthFlow, ...] = get_args(OAuthFlow)
AUTH: tuple[Auth, ...] = get_args(Auth)
DEPLOYMENTS: tuple[Deployment, ...] = get_args(Deployment)
EXTERNAL_IMAGES: tuple[ExternalImages, ...] = get_args(ExternalImages)
FORGET: tuple[Forget, ...] = get_args(Forget)
MAX_SIZE_MB = 10_000.0
