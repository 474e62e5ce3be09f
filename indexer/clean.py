"""Turn a post's body (Markdown, raw HTML, or both) into clean paragraphs.

Every body goes through one path: Markdown is rendered to HTML (raw HTML passes
through, as Jekyll does), then lxml removes what a reader never sees and the
site's own furniture, and each block becomes a paragraph.

The site ends every post with the same furniture: a paragraph holding only the
original article's address (`<https://…>`) and one of back links (`[返回…](//…)｜…`).
Parsing their links is most of what Markdown costs a post, and both paragraphs are
then dropped (the address kept as the post's url). So `_split_furniture` takes them
off the end when they are exactly that, and what rendering them would give is
computed directly: the same normalised address, and nothing for the back links. It
only does so when no earlier block can run on into them (a code fence, an HTML
comment, <pre> or <script> left open), so the rest renders as it would with them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": True})

_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "td", "th", "dd", "dt")
_INVISIBLE = ("script", "style", "iframe", "noscript", "object", "embed", "img", "svg",
              "template", "head", "title", "meta", "link", "form", "button", "input")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_SOURCE = re.compile(r"^[（(]\s*(?:文章)?来源[：:]\s*(?P<paper>[^）)]{1,40})\s*[）)]$")
_BACK_WORD = "返回"  # what the text of each of the site's back links starts with
_BACK_LINK = re.compile(f"^{_BACK_WORD}")
_SEPARATORS = "｜|/·•\\-"  # between the links of a line of links (a character class's body)
_LINK_SEPARATORS = re.compile(rf"^[\s{_SEPARATORS}]*$")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
# A back link as the site writes it: plain text after _BACK_WORD (no Markdown or HTML in it) and a
# protocol-relative or http(s) address of plain characters.
_BACK = rf"\[{_BACK_WORD}[^\[\]\\`*_<>&!\n]*\]\((?:https?:)?//[A-Za-z0-9\-._~/?#=%]*\)"
_FURNITURE = re.compile(
    r"\n[ \t]*\n(?:<(?P<url>https?://[^<>\x00-\x20]+)>[ \t]*\n[ \t]*\n)?"
    rf"{_BACK}(?:[ \t{_SEPARATORS}]*{_BACK})*[ \t\n]*\Z")
# Blocks that end only at their own end marker, so left open they would hold the furniture:
# fenced code, HTML comments and declarations, <pre>, <script>, <style>, <textarea>.
_RUNS_ON = re.compile(r"```|~~~|<[!?]|<(?:script|pre|style|textarea)\b", re.I)


@dataclass(frozen=True)
class CleanBody:
    paragraphs: tuple[str, ...]
    url: str  # the original article's address ("" if the post has none)
    paper: str  # from （文章来源：…） ("" if absent)


def clean_body(markup: str) -> CleanBody:
    rest, furniture_url = _split_furniture(markup)
    return _clean_html(_MARKDOWN.render(rest), furniture_url)


def _clean_html(html: str, furniture_url: str = "") -> CleanBody:
    """The paragraphs of rendered `html`; `furniture_url`: the address taken off its end."""
    if not html.strip():
        return CleanBody((), furniture_url, "")
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    _drop_invisible(root)
    source_link = _take_source_link(root)  # drops every such paragraph, so called in any case
    url = furniture_url or source_link  # the furniture's address comes last
    paragraphs: list[str] = []
    paper = ""
    digest = ""
    for block in _leaf_blocks(root):
        if _is_back_links(block):
            continue
        for text in _block_texts(block):
            source = _SOURCE.match(text)
            if source:
                paper = paper or source.group("paper").strip()
                continue
            if block.getparent() is not None and block.getparent().tag == "blockquote" and not paragraphs:
                digest = text
            paragraphs.append(text)
    # The site's Markdown posts open with a digest quoting the first sentence.
    if digest and len(paragraphs) > 1 and digest in paragraphs[1]:
        paragraphs.pop(0)
    return CleanBody(tuple(paragraphs), url, paper)


def _split_furniture(markup: str) -> tuple[str, str]:
    """`markup` without the site's closing furniture and the address it holds ("" if none), or
    `markup` whole and "" when its end is not exactly that furniture."""
    found = _FURNITURE.search(markup)
    if found is None or _RUNS_ON.search(markup, 0, found.start()):
        return markup, ""
    url = found.group("url")
    if url is None:
        return markup[:found.start()], ""
    # What the rendered autolink would hold: the source link only if its text is its address.
    href = _MARKDOWN.normalizeLink(url)
    if not _MARKDOWN.validateLink(href) or _MARKDOWN.normalizeLinkText(url) != href:
        return markup, ""
    return markup[:found.start()], href


def _drop_invisible(root) -> None:
    for node in list(root.iter()):
        if node.getparent() is None:
            continue
        if not isinstance(node.tag, str) or node.tag in _INVISIBLE \
                or _HIDDEN_STYLE.search(node.get("style", "")) or node.get("hidden") is not None:
            node.drop_tree()  # comments and processing instructions have no str tag


def _only_links(block) -> list:
    """The block's links if it holds nothing but links and separators, else []."""
    links = block.findall(".//a")
    return links if links and _LINK_SEPARATORS.match(_text_outside_links(block)) else []


def _take_source_link(root) -> str:
    """The last `<http…>` autolink, the site's link to the original article."""
    url = ""
    for block in list(root.iter("p")):
        links = _only_links(block)
        if len(links) == 1 and links[0].text_content().strip() == links[0].get("href", "") \
                and links[0].get("href", "").startswith(("http://", "https://")):
            url = links[0].get("href")
            block.drop_tree()
    return url


def _is_back_links(block) -> bool:
    links = _only_links(block)
    return bool(links) and all(_BACK_LINK.match(a.text_content().strip()) for a in links)


def _text_outside_links(block) -> str:
    parts = [block.text or ""]
    for child in block.iterdescendants():
        if child.tag != "a" and not any(p.tag == "a" for p in child.iterancestors()):
            parts.append(child.text or "")
        parts.append(child.tail or "")
    return "".join(parts)


def _leaf_blocks(root):
    """Blocks holding no other blocks, in document order; loose text counts as a block."""
    found = False
    for node in root.iter(*_BLOCKS):
        if not any(child.tag in _BLOCKS for child in node.iterdescendants()):
            found = True
            yield node
    if not found:
        yield root


def _block_texts(block) -> list[str]:
    for br in block.iter("br"):
        br.tail = "\n" + (br.tail or "")
    texts = []
    for line in block.text_content().split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if any(ch.isalnum() for ch in line):
            texts.append(line)
    return texts
