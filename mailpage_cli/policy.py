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
                     confirm: Callable[[str], bool] | None) -> None:
    """The resolved recipients: someone (a group may be empty), and within the policy. A dry
    run is checked as the send it rehearses, so that it fails where the send would; a message
    saved instead of sent is not asked about. ``confirm`` asks the person; ``None`` where
    nobody can answer."""
    if not found.all:
        raise UsageError("The recipients came to nobody (an empty group?)",
                         "Check them with `mailpage recipients SPEC...`.")
    check_domains(found, policy)
    sends = options.dry_run or not options.save
    if sends and not options.yes:
        check_count(found, policy, confirm)


def check_domains(found: Recipients, policy: PolicySettings) -> None:
    """Every recipient in the allowed domains (or their subdomains), if the policy names any."""
    if not policy.allowed_domains:
        return

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


# How many addresses the question about many recipients shows before "and N more".
SHOWN = 3


def check_count(found: Recipients, policy: PolicySettings,
                confirm: Callable[[str], bool] | None) -> None:
    """More than ``max_recipients``: asked about, naming the first few, where someone can
    answer; refused with the way round it where nobody can. A "no" is just that: not sent."""
    addresses = [r.address for r in found.all]
    if len(addresses) <= policy.max_recipients:
        return
    if confirm is None:
        raise PolicyError(
            f"{len(addresses)} recipients is more than max_recipients"
            f" ({policy.max_recipients})",
            "Pass --yes to send anyway, or raise the limit with"
            " `mailpage config set-policy --max-recipients N`.",
        )
    more = len(addresses) - SHOWN
    shown = ", ".join(addresses[:SHOWN]) + (f" and {more} more" if more > 0 else "")
    if not confirm(f"Send to {len(addresses)} recipients (more than {policy.max_recipients}):"
                   f" {shown}?"):
        raise PolicyError("Not sent.")
