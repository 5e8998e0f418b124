"""The fixed words of the contract that flags and settings share (SPEC "Commands" and
"Settings"). Tiny on purpose: the command line imports it at start-up."""

SECURITY = ("ssl", "starttls", "none")
SMTP_AUTH = ("password", "oauth2")
OAUTH_PROVIDERS = ("microsoft", "google")
OAUTH_FLOWS = ("device", "client-credentials", "browser", "service-account")
AUTH = ("basic", "bearer", "oauth2")  # oauth2: a service account's client credentials
DEPLOYMENTS = ("cloud", "datacenter")
EXTERNAL_IMAGES = ("link", "embed")
FORGET = ("smtp", "confluence", "directory", "all")
MAX_SIZE_MB = 10_000.0
