"""Checking Block Kit the way Slack does, with ``slack_sdk.models``.

A payload is parsed with slack_sdk's models (which validate types, lengths and required fields)
and compared with what was sent: a key the models drop is one Slack would refuse. The result is
the list of problems Slack would report, empty when the payload is valid.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS_LIMIT = 50
VIEW_BLOCKS_LIMIT = 100


def _unknown_keys(sent: Any, parsed: Any, path: str) -> list[str]:
    """Keys present in what the app sent but dropped by slack_sdk's models: Slack rejects them."""
    problems: list[str] = []
    if isinstance(sent, dict) and isinstance(parsed, dict):
        for key, value in sent.items():
            if key not in parsed:
                problems.append(f"{path}.{key}: unknown field")
            else:
                problems.extend(_unknown_keys(value, parsed[key], f"{path}.{key}"))
    elif isinstance(parsed, dict):
        # slack_sdk turns a bare string into a text object; Slack itself refuses one.
        problems.append(f"{path}: must be an object, not {type(sent).__name__}")
    elif isinstance(sent, list) and isinstance(parsed, list) and len(sent) == len(parsed):
        for index, (one_sent, one_parsed) in enumerate(zip(sent, parsed, strict=True)):
            problems.extend(_unknown_keys(one_sent, one_parsed, f"{path}[{index}]"))
    return problems


def validate_blocks(blocks: Any, *, limit: int = MESSAGE_BLOCKS_LIMIT) -> list[str]:
    """Every problem Slack would report for this ``blocks`` array (empty when valid)."""
    try:
        key = json.dumps(blocks, sort_keys=True)
    except (TypeError, ValueError):
        return _validate_blocks(blocks, limit)
    # The same payloads recur (benchmarks, repeated replies): validating is pure, so memoise.
    return list(_validate_blocks_json(key, limit))


@functools.lru_cache(maxsize=2048)
def _validate_blocks_json(blocks_json: str, limit: int) -> tuple[str, ...]:
    return tuple(_validate_blocks(json.loads(blocks_json), limit))


def _validate_blocks(blocks: Any, limit: int) -> list[str]:
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"blocks: {len(blocks)} blocks, at most {limit} allowed")
    for index, raw in enumerate(blocks):
        path = f"blocks[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{path}: must be an object")
            continue
        try:
            block = Block.parse(dict(raw))
            if block is None:
                problems.append(f"{path}: unknown block type {raw.get('type')!r}")
                continue
            block.validate_json()
            parsed = block.to_dict()  # validates nested elements and text objects too
        except Exception as error:  # slack_sdk raises several types for malformed input
            problems.append(f"{path}: {type(error).__name__}: {error}")
            continue
        problems.extend(_unknown_keys(raw, parsed, path))
    return problems


def validate_view(view: Any) -> list[str]:
    """Every problem Slack would report for this view (modal or home tab)."""
    if not isinstance(view, dict):
        return ["view must be an object"]
    problems: list[str] = []
    view_type = view.get("type")
    blocks = view.get("blocks")
    if view_type == "modal":
        if not view.get("title"):
            problems.append("view.title: a modal needs a title")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and not view.get("submit"):
            problems.append("view.submit: a modal with input blocks needs a submit button")
    if not isinstance(blocks, list) or not blocks:
        problems.append("view.blocks: a view needs at least one block")
    else:
        problems.extend(f"view.{p}" for p in validate_blocks(blocks, limit=VIEW_BLOCKS_LIMIT))
    try:
        parsed_view = View(**view)
        parsed_view.validate_json()
        parsed = {k: v for k, v in parsed_view.to_dict().items() if k != "blocks"}
    except Exception as error:  # slack_sdk raises several types for malformed input
        problems.append(f"view: {type(error).__name__}: {error}")
    else:
        without_blocks = {k: v for k, v in view.items() if k != "blocks"}
        problems.extend(_unknown_keys(without_blocks, parsed, "view"))
    return problems


def validate_ack(body: str) -> list[str]:
    """Every problem Slack would report for the Block Kit in an HTTP ack's ``body``: a message's
    ``blocks`` (a slash command answered in its ack), a modal's ``view`` (a submission's
    ``response_action``). An empty or non-JSON body carries none."""
    try:
        answer = json.loads(body) if body.strip() else None
    except ValueError:
        return []
    if not isinstance(answer, dict):
        return []
    problems: list[str] = []
    if "blocks" in answer:
        problems.extend(validate_blocks(answer["blocks"]))
    if "view" in answer:
        problems.extend(validate_view(answer["view"]))
    return problems
