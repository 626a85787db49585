"""Text from users inside the Markdown mesti writes: shown as written, never as markup.

Class labels, dataset names and roots, subject and fold names, commands and protocol texts
come from users' sheets, manifests and command lines. In ``report.md``, ``summary.md``,
``seeds.md``, ``model.md`` or ``paper_report.md`` a label such as ``<script>``,
``![i](http://host/x.png)`` or ``[x](javascript:...)`` must read as those characters: not run
as HTML, load a remote image or become a link. Every generated Markdown file passes such text
through :func:`md_text` (inline) or :func:`md_code` (a fenced block), and nothing else.
"""

from __future__ import annotations

import re
from typing import Any

# Characters that start HTML or an entity, or Markdown emphasis, code, links and images
# (a "(" is harmless once "[" and "]" are escaped), tables, headings, lists, strikethrough:
# escaped with CommonMark's backslash escapes and entities. An underscore inside a word
# ("dynamic_image") cannot open emphasis and stays as it is.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BACKSLASHED = set("\\`*_[]#+!|~")


def _escaped(text: str, i: int) -> str:
    ch = text[i]
    if ch in _ENTITIES:
        return _ENTITIES[ch]
    if ch == "_" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum():
        return ch
    return f"\\{ch}" if ch in _BACKSLASHED else ch


def md_text(value: Any) -> str:
    """``value`` as inline Markdown text, on one line (a newline would end a table row or
    start a block), with HTML and Markdown specials escaped."""
    text = " ".join(str(value).split())
    return "".join(_escaped(text, i) for i in range(len(text)))


def md_code(text: str, language: str = "") -> str:
    """``text`` as a fenced code block whose fence no line of it can close (longer than its
    longest run of backticks): inside, nothing is markup."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"
