"""HTML (a hub's description) as plain text: tags dropped, scripts and styles with their content, entities read.

The text is stored and shown as text (textContent), never as markup, so nothing from the hub runs in the page.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose content is no text a person reads.
_SILENT = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "head"})
# Elements that end a line of text.
_BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table",
                     "blockquote", "pre", "hr"})


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._silent = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SILENT:
            self._silent += 1
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SILENT:
            self._silent = max(0, self._silent - 1)
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._silent:
            self.parts.append(data)


def plain_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
