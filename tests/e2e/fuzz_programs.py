"""Programs for the fuzzer: single steps from anyone, interleaved with what the legitimate
owners and approvers do (so that there are real requests, prompts and forms to attack)."""

from __future__ import annotations

from fuzz_forms import ChooseSubscription, FormEvent, Genuine
from fuzz_traffic import (
    ACME_MANAGER,
    ACME_OWNER,
    APPROVAL_ACTIONS,
    OTHER_OWNER,
    PROMPT_ACTIONS,
    AccountName,
    Actor,
    Click,
    Command,
    DenySubmission,
    Existing,
    HomeOpened,
    PlatformUsers,
    SlowClientsArrive,
    Surface,
    TimePasses,
    actors,
    platform_changes,
    reasons,
    time_passing,
    weighted,
)
from hypothesis import strategies as st

from handlers import ids

#: What is sent to the app as one signed request.
Request = Command | Click | FormEvent | DenySubmission | HomeOpened
#: One step of a program: a request, or a change on the platform, the clock or the app's
#: connections between requests.
Step = Request | PlatformUsers | TimePasses | SlowClientsArrive

# -- what the legitimate owners do ---------------------------------------------------------------

OWNERS: dict[Actor, AccountName] = {ACME_OWNER: "acme", OTHER_OWNER: "globex"}
OWN_PRODUCT: dict[AccountName, str] = {"acme": "axiom", "globex": "matrix"}


@st.composite
def owner_changes(draw: st.DrawFn) -> list[Step]:
    """An owner asks for a change of their own product, then acts on its prompt (mostly
    confirms it, sometimes after checking again)."""
    owner = draw(st.sampled_from(list(OWNERS)))
    account = OWNERS[owner]
    verb = draw(st.sampled_from(["add", "remove", "set"]))
    count = draw(st.integers(0 if verb == "set" else 1, 6))
    steps: list[Step] = [Command(owner, f"{verb} {count} {OWN_PRODUCT[account]}")]
    for action in draw(st.lists(st.sampled_from(PROMPT_ACTIONS), min_size=1, max_size=2)):
        steps.append(Click(owner, action, Existing(account, 0, 0, False), ids.PROMPT_ACTIONS_BLOCK))
    return steps


@st.composite
def owner_forms(draw: st.DrawFn) -> list[Step]:
    """An owner opens the form, types a count (the live preview), submits, and confirms."""
    owner = draw(st.sampled_from(list(OWNERS)))
    account = OWNERS[owner]
    metadata = Genuine(account, "none")
    chosen = ChooseSubscription("same")
    count = str(draw(st.integers(0, 14)))
    reason = draw(reasons)
    callback = ids.MODAL_CALLBACK
    return [
        Command(owner, ""),
        FormEvent(owner, "count", True, metadata, chosen, count, None, callback),
        FormEvent(owner, "submit", True, metadata, chosen, count, reason, callback),
        Click(owner, ids.CONFIRM_ACTION, Existing(account, 0, 0, False), ids.PROMPT_ACTIONS_BLOCK),
    ]


@st.composite
def approvals(draw: st.DrawFn) -> list[Step]:
    """Acme's owner asks for a decrease (acme's policy routes every decrease to its managers),
    confirms it — sometimes twice, so that two requests wait for one target — and someone
    decides each (on the message, the approval channel's post or the App Home), sometimes
    after the deadline: mostly the manager, who approves or denies with a reason; sometimes
    someone who may not (the owner themself, a viewer, another workspace)."""
    account: AccountName = "acme"
    count = draw(st.integers(1, 3))
    twins = draw(weighted((2, st.just(1)), (1, st.just(2))))
    steps: list[Step] = []
    for _ in range(twins):
        steps.append(Command(ACME_OWNER, f"remove {count} axiom"))
        latest = Existing(account, 0, 0, False)
        steps.append(Click(ACME_OWNER, ids.CONFIRM_ACTION, latest, ids.PROMPT_ACTIONS_BLOCK))
    # Meanwhile users may be created on the platform: approving re-checks the decrease; and
    # hours may pass with no scheduler running: a decision checks the deadline itself.
    steps.extend(draw(st.lists(platform_changes, max_size=1)))
    steps.extend(draw(st.lists(time_passing, max_size=1)))
    where: list[Surface] = ["ephemeral", "posted", "posted", "home"]
    # The older request first: the newer one may find its target already reached.
    for pick in reversed(range(twins)):
        mine = Existing(account, pick, 0, False)
        decider = draw(weighted((3, st.just(ACME_MANAGER)), (1, st.just(ACME_OWNER)), (1, actors)))
        decision = draw(st.sampled_from(APPROVAL_ACTIONS))
        surface = draw(st.sampled_from(where))
        steps.append(Click(decider, decision, mine, ids.APPROVAL_ACTIONS_BLOCK, surface))
        if decision == ids.DENY_ACTION:
            steps.append(DenySubmission(decider, mine, draw(reasons)))
    return steps


def programs(
    steps: st.SearchStrategy[Step], *, min_size: int = 0, max_size: int
) -> st.SearchStrategy[list[Step]]:
    """Lists of ``steps`` interleaved with the owners' own seat changes and their approval
    (episodes of steps)."""
    episodes = weighted(
        (12, steps.map(lambda step: [step])),
        (1, owner_changes()),
        (1, owner_forms()),
        (1, approvals()),
    )
    return st.lists(episodes, min_size=min_size, max_size=max_size).map(
        lambda chunks: [step for chunk in chunks for step in chunk]
    )
