"""Block Kit as readable text, for transcripts (``seatbot demo``) and debugging.

Pure functions from the JSON Slack receives (message ``blocks``, modal ``view``) to lines of
plain text: headers, sections and their fields, context lines, inputs as ``▸ Label: [value]``
and buttons as ``[Confirm] [Cancel]``. Slack's mrkdwn is reduced to plain text
(``*bold*`` → ``bold``, ``<@U1>`` → ``@U1``, ``&lt;`` → ``<``), emoji codes to the emoji
(``:hourglass_flowing_sand:`` → ``⏳``; one it does not know in words).
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

_MENTION = re.compile(r"<@([A-Z0-9_]+)>")
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
#: The emoji Seatbot's messages use, as the terminal shows them.
_EMOJI = {
    "white_check_mark": "✅",
    "warning": "⚠️",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "information_source": "ℹ️",
    "grey_question": "❔",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "heavy_minus_sign": "➖",
}
# A Slack emoji code (``:hourglass_flowing_sand:``), not a time (``11:41:00``) or a URL.
_EMOJI_CODE = re.compile(r"(?<![\w:/]):([a-z][a-z0-9_+-]*):(?![\w/])")


def _emoji(match: re.Match[str]) -> str:
    name = match.group(1)
    # One the table lacks is said in words rather than left as a code.
    return _EMOJI.get(name) or f"({name.replace('_', ' ')})"


def plain(mrkdwn: str) -> str:
    """Slack mrkdwn as plain text."""
    text = _MENTION.sub(r"@\1", mrkdwn)
    text = _LINK.sub(r"\2", text)
    text = _EMOJI_CODE.sub(_emoji, text)
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])", r"\1", text)
    text = text.replace("`", "")
    return html.unescape(text)


def _text_of(value: Any) -> str:
    if isinstance(value, Mapping):
        return plain(str(value.get("text") or ""))
    return plain(str(value or ""))


def _element(element: Mapping[str, Any], state: Mapping[str, Any] | None) -> str:
    kind = element.get("type")
    current = dict(state or {})
    if kind == "button":
        return f"[{_text_of(element.get('text'))}]"
    if kind == "static_select":
        chosen = current.get("selected_option") or element.get("initial_option")
        shown = _text_of(chosen.get("text")) if isinstance(chosen, Mapping) else "choose…"
        options = ", ".join(_text_of(o.get("text")) for o in element.get("options") or [])
        return f"[{shown} ▾]  (options: {options})"
    if kind in ("number_input", "plain_text_input"):
        value = current.get("value", element.get("initial_value"))
        return f"[{value if value not in (None, '') else '   '}]"
    return f"[{kind}]"


def render_blocks(
    blocks: Sequence[Mapping[str, Any]],
    *,
    state: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    width: int = 96,
) -> list[str]:
    """Lines of text showing ``blocks``; ``state`` (a view's ``state.values``) fills inputs."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(_text_of(block.get("text")).upper())
        elif kind == "section":
            if block.get("text"):
                lines.extend(_wrap(_text_of(block["text"]), width))
            for field in block.get("fields") or []:
                label, _, value = _text_of(field).partition("\n")
                lines.extend(_wrap(f"  {label}: {value}" if value else f"  {label}", width))
            if block.get("accessory"):
                lines.append("  " + _element(block["accessory"], None))
        elif kind == "context":
            for element in block.get("elements") or []:
                for line in _text_of(element).split("\n"):
                    lines.extend(_wrap(f"  · {line}", width))
        elif kind == "actions":
            lines.extend(
                _wrap(" ".join(_element(e, None) for e in block.get("elements") or []), width)
            )
        elif kind == "input":
            block_state = (state or {}).get(str(block.get("block_id")), {})
            element = block.get("element") or {}
            action_state = block_state.get(str(element.get("action_id")), {})
            optional = " (optional)" if block.get("optional") else ""
            label = _text_of(block.get("label")).removesuffix(" (optional)")
            lines.extend(_wrap(f"▸ {label}{optional}: {_element(element, action_state)}", width))
        elif kind == "divider":
            lines.append("─" * min(width, 40))
        else:
            lines.append(f"[{kind} block]")
    return lines


def render_view(view: Mapping[str, Any], *, width: int = 96) -> list[str]:
    """A modal as a titled box of lines, with its submit and close buttons."""
    title = _text_of(view.get("title"))
    state = (view.get("state") or {}).get("values")
    body = render_blocks(view.get("blocks") or [], state=state, width=width - 4)
    buttons = " ".join(
        f"[{_text_of(view[key])}]" for key in ("close", "submit") if view.get(key) is not None
    )
    inner = max([len(title) + 2, len(buttons), *(len(line) for line in body)])
    top = f"┌─ {title} " + "─" * max(0, inner - len(title) - 1) + "┐"
    framed = [f"│ {line.ljust(inner)} │" for line in [*body, "", buttons.rjust(inner)]]
    return [top, *framed, "└" + "─" * (inner + 2) + "┘"]


def render_message(payload: Mapping[str, Any], *, width: int = 96) -> list[str]:
    """A message payload (``text`` + ``blocks``) as lines; the text when there are no blocks."""
    blocks = payload.get("blocks")
    if blocks:
        return render_blocks(blocks, width=width)
    return _wrap(plain(str(payload.get("text") or "")), width)


def _wrap(text: str, width: int) -> list[str]:
    out: list[str] = []
    for paragraph in text.split("\n"):
        out.extend(textwrap.wrap(paragraph, width, subsequent_indent="    ") or [""])
    return out
