"""What a send or a digest asks for (:class:`DeliveryOptions`), and the checks it must pass
before anything goes out: the options alone, then the resolved recipients against the
profile's policy. A dry run passes exactly the checks a send does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailpage_cli.errors import PolicyError, UsageError
from mailpage_cli.models import Recipients
from mailpage_cli.settings import PolicySettings


@dataclass(frozen=True, kw_only=True)
class DeliveryOptions:
    """Who gets the message and how it goes: what ``send`` and ``digest`` share."""

    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str | None = None
    note: str | None = None
    individually: bool = False
    skip_unresolvable: bool = False
    dry_run: bool = False
    save: str | None = None  # a path, or "-" for the caller to print
    yes: bool = False


def check_options(options: DeliveryOptions) -> None:
    """Mistakes in the options alone: reported before anything is looked up."""
    if not (options.to or options.cc or options.bcc):
        raise UsageError("No recipients", "Give at least one --to, --cc or --bcc.")
    if options.individually and options.save:
        raise UsageError("--individually makes one message per recipient; --save writes one",
                         "Leave out one of them (--dry-run shows what would be sent).")


def check_recipients(found: Recipients, policy: PolicySettings, options: DeliveryOptions,
                     confirm: Callable[[str], bool]) -> None:
    """The resolved recipients: someone (a group may be empty), and within the policy. A dry
    run is checked as the send it rehearses, so that it fails where the send would; a message
    saved instead of sent is not asked about."""
    if not found.all:
        raise UsageError("No recipients", "Give at least one --to, --cc or --bcc.")
    sends = options.dry_run or not options.save
    check_policy(found, policy, confirm if sends and not options.yes else None)


def check_policy(found: Recipients, policy: PolicySettings,
                 confirm: Callable[[str], bool] | None) -> None:
    """Stop before anything goes out: foreign domains, then (if there is ``confirm`` to ask)
    too many recipients."""
    if policy.allowed_domains:
        def allowed(domain: str) -> bool:
            return any(domain == d or domain.endswith(f".{d}") for d in policy.allowed_domains)

        outside = [r.address for r in found.all if not allowed(r.address.rpartition("@")[2])]
        if outside:
            raise PolicyError(
                f"Recipients outside the allowed domains ({', '.join(policy.allowed_domains)}):"
                f" {', '.join(outside)}",
                "Remove them, or change the policy with `mailpage config set-policy"
                " --allowed-domain DOMAIN`.",
            )
    count = len(found.all)
    question = f"Send to {count} recipients (more than {policy.max_recipients})?"
    if confirm is not None and count > policy.max_recipients and not confirm(question):
        raise PolicyError(
            f"{count} recipients is more than max_recipients ({policy.max_recipients})",
            "Pass --yes to send anyway, or raise the limit with"
            " `mailpage config set-policy --max-recipients N`.",
        )
