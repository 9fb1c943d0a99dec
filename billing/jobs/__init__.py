"""Claiming scheduled work in the database, so that it is done once."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.jobs.ports import (
        KeepClaim,
        Post,
        PostFailed,
        Posting,
        ReadUsers,
        Render,
        Request,
        Steps,
        Update,
        Upload,
    )
    from billing.jobs.rules import Claim, PostOutcome
    from billing.jobs.store import JobClaims

_OFFERED = {
    "ports": (
        "KeepClaim",
        "Post",
        "PostFailed",
        "Posting",
        "ReadUsers",
        "Render",
        "Request",
        "Steps",
        "Update",
        "Upload",
    ),
    "rules": (
        "Claim",
        "PostOutcome",
    ),
    "store": ("JobClaims",),
}
__all__ = [
    "Claim",
    "JobClaims",
    "KeepClaim",
    "Post",
    "PostFailed",
    "PostOutcome",
    "Posting",
    "ReadUsers",
    "Render",
    "Request",
    "Steps",
    "Update",
    "Upload",
]
__getattr__ = face(__name__, _OFFERED)
