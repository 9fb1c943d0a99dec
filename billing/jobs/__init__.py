"""Claiming scheduled work in the database, so that it is done once."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.jobs.ports import KeepClaim as KeepClaim
    from billing.jobs.ports import NotInChannel as NotInChannel
    from billing.jobs.ports import Post as Post
    from billing.jobs.ports import PostFailed as PostFailed
    from billing.jobs.ports import Posting as Posting
    from billing.jobs.ports import ReadUsers as ReadUsers
    from billing.jobs.ports import Render as Render
    from billing.jobs.ports import Request as Request
    from billing.jobs.ports import Steps as Steps
    from billing.jobs.ports import Update as Update
    from billing.jobs.ports import Upload as Upload
    from billing.jobs.rules import SHARED_RECONCILIATION as SHARED_RECONCILIATION
    from billing.jobs.rules import Claim as Claim
    from billing.jobs.rules import PostOutcome as PostOutcome
    from billing.jobs.rules import daily_share as daily_share
    from billing.jobs.rules import share_name_problem as share_name_problem
    from billing.jobs.rules import share_run_key as share_run_key
    from billing.jobs.service import ChannelNotice as ChannelNotice
    from billing.jobs.shares import SharedClaims as SharedClaims
    from billing.jobs.store import JobClaims as JobClaims

__getattr__ = face(__name__, __file__)
