"""Tools that talk to the hub: forum, leaderboard, submissions, the final result, snapshots.

They run in the campaign process with the researcher's own token, so the hub knows who did
what and applies that researcher's budgets; the hub's refusals come back to the model.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from aar.hub.client import BudgetExceededError
from aar.researchers.tools.base import OUTPUTS_FOLDER, ToolArgs, ToolError, tool
from aar.researchers.tools.context import ToolContext

Kind = Literal["result", "hypothesis", "insight", "error", "question"]


def _post_line(post: dict[str, Any]) -> str:
    tags = f" [{', '.join(post['tags'])}]" if post.get("tags") else ""
    head = f"#{post['id']} {post['kind']} by {post['author']} (score {post['score']}, "
    return head + f"{post['replies']} replies){tags}: {post['title']}"


def _post_full(post: dict[str, Any]) -> str:
    links = post.get("links") or {}
    linked = ", ".join(
        [f"scoring {s}" for s in links.get("scorings", [])]
        + [f"snapshot {s}" for s in links.get("snapshots", [])]
    )
    return _post_line(post) + (f"\nlinks: {linked}" if linked else "") + "\n" + post["body"]


class ForumReadArgs(ToolArgs):
    post_id: str | None = Field(None, description="read this post and its replies in full")
    kind: Kind | None = None
    tag: str | None = None
    author: str | None = None
    limit: int = Field(20, ge=1, le=100)


@tool("forum_read", ForumReadArgs)
def forum_read(ctx: ToolContext, args: ForumReadArgs) -> str:
    """Read the forum: the newest posts (filtered by kind, tag or author), or one post in full
    with its replies."""
    if args.post_id is not None:
        replies = ctx.hub.list_posts(parent=args.post_id, limit=args.limit)
        shown = [_post_full(ctx.hub.get_post(args.post_id))] + [_post_full(r) for r in replies]
        return "\n\n".join(shown)
    posts = ctx.hub.list_posts(kind=args.kind, tag=args.tag, author=args.author, limit=args.limit)
    return "\n".join(_post_line(p) for p in posts) or "no posts yet"


class ForumPostArgs(ToolArgs):
    kind: Kind
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    scorings: list[int] = Field(default_factory=list, description="ids of supporting scorings")
    snapshots: list[str] = Field(default_factory=list, description="ids of snapshots")


@tool("forum_post", ForumPostArgs)
def forum_post(ctx: ToolContext, args: ForumPostArgs) -> str:
    """Post to the forum: a result, hypothesis, insight, error or question. Link the scorings
    and snapshots that support a claim."""
    post = ctx.hub.post(
        args.kind, args.title, args.body, tags=args.tags, scorings=args.scorings,
        snapshots=args.snapshots,
    )  # fmt: skip
    return f"posted #{post['id']}"


class ForumReplyArgs(ToolArgs):
    parent_id: str
    body: str = Field(min_length=1)
    kind: Kind = "insight"


@tool("forum_reply", ForumReplyArgs)
def forum_reply(ctx: ToolContext, args: ForumReplyArgs) -> str:
    """Reply to a forum post."""
    title = f"re: {ctx.hub.get_post(args.parent_id)['title']}"[:200]
    post = ctx.hub.post(args.kind, title, args.body, parent_id=args.parent_id)
    return f"replied #{post['id']}"


class ForumSearchArgs(ToolArgs):
    query: str = Field(min_length=1)
    limit: int = Field(10, ge=1, le=50)


@tool("forum_search", ForumSearchArgs)
def forum_search(ctx: ToolContext, args: ForumSearchArgs) -> str:
    """Full-text search of the forum (every word must occur), best match first."""
    posts = ctx.hub.search(args.query, limit=args.limit)
    return "\n".join(_post_line(p) for p in posts) or "no matching posts"


class LeaderboardArgs(ToolArgs):
    pass


@tool("leaderboard", LeaderboardArgs)
def leaderboard(ctx: ToolContext, args: LeaderboardArgs) -> str:
    """The task's public leaderboard: mean public PGR ± SE per (researcher, method, snapshot)."""
    rows = ctx.hub.leaderboard(ctx.task)
    lines = [
        f"{r.researcher:<16} {r.method:<24} PGR {r.public_pgr.mean:.2f} "
        f"± {r.public_pgr.se or 0:.2f} (n={r.public_pgr.n})"
        + (f" snapshot {r.snapshot_id}" if r.snapshot_id else "")
        for r in rows
    ]
    return "\n".join(lines) or "no scorings yet"


class SubmitArgs(ToolArgs):
    path: str = Field(description="a JSON file in the workspace: a list of labels, or an "
                      "object with a 'predictions' list (as run_method writes)")  # fmt: skip
    method: str = Field(min_length=1, max_length=128, description="a short method name")
    description: str = Field("", description="what this submission is, for the others")
    seed: int = Field(0, ge=0)
    snapshot_id: str | None = Field(
        None,
        description="your own snapshot that produced it (another researcher's or a missing "
        "one is refused)",
    )


@tool("submit_predictions", SubmitArgs)
def submit_predictions(ctx: ToolContext, args: SubmitArgs) -> str:
    """Submit test-set predictions to the hub. You get the public half's accuracy, rounded,
    and the PGR computed from it. Submissions are budgeted; results the hub's checks question
    (near-copies of earlier submissions, hill-climbing, implausible scores, a flagged snapshot)
    stay off the leaderboard until the operator has reviewed them."""
    predictions = _read_predictions(ctx, args.path)
    try:
        answer = ctx.hub.submit(
            ctx.task, predictions, args.method, description=args.description, seed=args.seed,
            snapshot_id=args.snapshot_id,
        )  # fmt: skip
    except BudgetExceededError as err:
        raise ToolError(f"submission refused: {err.detail}") from None
    budget = answer.budget
    held_back = (
        ""
        if answer.released
        else " (not a new best by the hub's margin: the scores repeat your best released one)"
    )
    return (
        f"scoring #{answer.id}: public accuracy {answer.public_accuracy}, public PGR "
        f"{answer.public_pgr}{held_back}; budget used {budget.used_this_hour}/{budget.per_hour} "
        f"this hour, {budget.used_total}/{budget.total} in all"
    )


def _read_predictions(ctx: ToolContext, path: str) -> list[int]:
    try:
        loaded = json.loads(ctx.sandbox.read_file(path, max_bytes=50_000_000))
    except json.JSONDecodeError as err:
        raise ToolError(f"{path} is not JSON: {err}") from None
    values = loaded.get("predictions") if isinstance(loaded, dict) else loaded
    if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
        raise ToolError(f"{path}: expected a list of integer labels (or {{'predictions': [...]}})")
    return values


class FinalArgs(ToolArgs):
    scoring_id: int = Field(ge=1, description="one of your scorings on this task")


@tool("declare_final", FinalArgs)
def declare_final(ctx: ToolContext, args: FinalArgs) -> str:
    """Declare one of your scorings your final result; a later declaration replaces it. The
    final ranking takes one entry per researcher: its declared final, else its best by public
    PGR. That entry's snapshot is verified: its reproduce.json is re-run on the original
    bundle and seed and must reproduce the submitted predictions, then on a sealed test set
    no one has seen, with freshly trained teachers per seed. Declare the scoring whose method
    you trust most, and name its snapshot when you submit it."""
    final = ctx.hub.declare_final(ctx.task, args.scoring_id)
    snapshot = f"snapshot {final.snapshot_id}" if final.snapshot_id else "no snapshot: unverifiable"
    return f"scoring #{final.scoring_id} ({final.method}, {snapshot}) is your final result"


class ShareArgs(ToolArgs):
    note: str = Field("", max_length=2000, description="what this snapshot holds")


@tool("share_snapshot", ShareArgs)
def share_snapshot(ctx: ToolContext, args: ShareArgs) -> str:
    """Share your whole workspace as an immutable snapshot others can fetch (its parent is your
    previous snapshot). Link it in forum posts and submissions; with reproduce.json at the
    workspace's root, the campaign can verify the results it produced."""
    snapshot = ctx.hub.upload_snapshot(
        ctx.sandbox.spec.workspace, parent_id=ctx.last_snapshot, note=args.note,
        exclude=("snapshots", OUTPUTS_FOLDER),
    )  # fmt: skip
    ctx.last_snapshot = snapshot.id
    return f"snapshot {snapshot.id} ({snapshot.size} bytes)"


class FetchArgs(ToolArgs):
    snapshot_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


@tool("fetch_snapshot", FetchArgs)
def fetch_snapshot(ctx: ToolContext, args: FetchArgs) -> str:
    """Fetch another researcher's snapshot into snapshots/<id>/ in your workspace."""
    dest = ctx.sandbox.spec.workspace / "snapshots" / args.snapshot_id
    ctx.hub.download_snapshot(args.snapshot_id, dest)
    snapshot = ctx.hub.snapshot(args.snapshot_id)
    return f"snapshot {args.snapshot_id} by {snapshot.author} is in snapshots/{args.snapshot_id}/"


HUB_TOOLS = [
    forum_read,
    forum_post,
    forum_reply,
    forum_search,
    leaderboard,
    submit_predictions,
    declare_final,
    share_snapshot,
    fetch_snapshot,
]
