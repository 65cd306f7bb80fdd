"""Finds text people would see in a template that is not marked for translation.

Jinja's own lexer splits a template into its literal text (`data` tokens) and its tags; every tag is
replaced by a placeholder, and the HTML that is left is parsed: each text node, and each attribute
people read (title, alt, placeholder, aria-label, ...), must hold no words outside a tag, since a
`{{ _('...') }}` is a tag and leaves only the placeholder behind. Text inside {% trans %} blocks is
marked; <script>, <style>, <code> and <pre> hold no prose. Plain-text templates (e-mail text parts) are
all text. What counts as a word: a run of two or more letters that is not the brand (gamify) or an
HTML entity; numbers, punctuation, symbols and emoji are left alone.

    python -m tests.i18n_lint            # prints every finding, exits 1 if there is one
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import Environment

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PLACEHOLDER = "\x00"
READ_ATTRIBUTES = {
    "title",
    "alt",
    "placeholder",
    "aria-label",
    "aria-description",
    "aria-roledescription",
    "label",
    "data-confirm",
}
NO_PROSE = {"script", "style", "code", "pre", "kbd", "samp"}
# Templates still to be marked (issue 20 item 2 goes area by area); the test skips these prefixes.
PENDING = ("api/",)
# The notification templates admins can edit run in a sandbox without gettext: each language has its own
# copy (notifications/<lang>/<type>/...), so instead of marks every English default needs its copies.
PER_LOCALE = "notifications/"
LOCALES = ("es",)
# Words that are the same in every language: the product's name.
NOT_WORDS = {"gamify"}
MARKERS = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
# A literal reads as prose when it starts with a capitalised word or is a sentence ('2 left.').
_PROSE = re.compile(r"^\W*[A-Z][a-z]|[a-z] [a-z][^'\"]*[.!?…]$")
_IDENTIFIER = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z]+)+")  # 'BooleanField': a class name, not prose
_WORD = re.compile(r"[^\W\d_]{2,}")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


@dataclass(frozen=True)
class Finding:
    template: str
    line: int
    text: str

    def __str__(self) -> str:
        if self.text.startswith("missing: "):
            return f"templates/{self.template}: {self.text}"
        return f"templates/{self.template}:{self.line}: not marked for translation: {self.text!r}"


def _words(text: str) -> list[str]:
    text = _ENTITY.sub(" ", text)
    return [w for w in _WORD.findall(text) if w.lower() not in NOT_WORDS]


def _expression_strings(env: Environment, name: str, source: str) -> list[Finding]:
    """String literals inside tags that read as prose ('Year in review', 'Saved.') and are not an
    argument of _(), gettext() or ngettext(): macro arguments and conditional words people see."""
    findings = []
    calls: list[str] = []  # the callee of each open parenthesis
    last_name = ""
    for lineno, kind, value in env.lex(source):
        if kind == "name":
            last_name = value
            continue
        if kind == "operator" and value == "(":
            calls.append(last_name)
        elif kind == "operator" and value == ")" and calls:
            calls.pop()
        elif kind == "string" and not any(c in MARKERS for c in calls):
            text = value[1:-1]
            if _PROSE.search(text) and not _IDENTIFIER.fullmatch(text) and _words(text):
                findings.append(Finding(name, lineno, text))
        last_name = ""
    return findings


def _flatten(env: Environment, source: str) -> tuple[str, list[int]]:
    """The template's literal text with every tag (and the text inside {% trans %}) as PLACEHOLDER,
    and the source line of each character."""
    out: list[str] = []
    lines: list[int] = []
    in_trans = 0
    block: list[str] | None = None  # the names of the {% ... %} being read
    for lineno, kind, value in env.lex(source):
        if kind == "block_begin":
            block = []
        elif kind == "name" and block is not None:
            block.append(value)
        elif kind == "block_end":
            if block and block[0] == "trans":
                in_trans += 1
            elif block and block[0] == "endtrans":
                in_trans -= 1
            block = None
            out.append(PLACEHOLDER)
            lines.append(lineno)
        elif kind == "variable_end":
            out.append(PLACEHOLDER)
            lines.append(lineno)
        elif kind == "data":
            if in_trans:
                out.append(PLACEHOLDER)
                lines.append(lineno)
                continue
            out.append(value)
            for ch in value:
                lines.append(lineno)
                lineno += ch == "\n"
    return "".join(out), lines


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.texts: list[tuple[int, str]] = []  # (offset, text)
        self._hidden = 0

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def feed_text(self, text: str) -> None:
        self._line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._line_starts.append(i + 1)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag in NO_PROSE:
            self._hidden += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.texts.append((self._offset(), value))
        if tag == "input" and any(n == "type" and v in ("submit", "button") for n, v in attrs):
            for name, value in attrs:
                if name == "value" and value:
                    self.texts.append((self._offset(), value))

    def handle_startendtag(self, tag, attrs):
        hidden = self._hidden
        self.handle_starttag(tag, attrs)
        self._hidden = hidden

    def handle_endtag(self, tag):
        if tag in NO_PROSE and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.texts.append((self._offset(), data))


def _blank_tags_in_markup(flat: str) -> str:
    """A tag inside an element's tag (`<tr{% if me %} class="me"{% endif %}>`) becomes a space, so the
    HTML parser still reads one element; inside a quoted attribute value it stays a placeholder."""
    out = []
    in_tag, quote = False, ""
    for i, ch in enumerate(flat):
        if in_tag:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "\"'":
                quote = ch
            elif ch == ">":
                in_tag = False
            elif ch == PLACEHOLDER:
                ch = " "
        elif ch == "<" and i + 1 < len(flat) and (flat[i + 1].isalpha() or flat[i + 1] == "/"):
            in_tag = True
        out.append(ch)
    return "".join(out)


def check_source(env: Environment, name: str, source: str) -> list[Finding]:
    flat, lines = _flatten(env, source)
    if name.endswith(".html"):
        flat = _blank_tags_in_markup(flat)
        parser = _Visible()
        parser.feed_text(flat)
        texts = parser.texts
    else:
        texts = [(0, flat)]
    findings = _expression_strings(env, name, source)
    for offset, text in texts:
        pos = offset
        for piece in text.split(PLACEHOLDER):
            if _words(piece):
                line = lines[min(pos + len(piece) - len(piece.lstrip()), len(lines) - 1)] if lines else 1
                findings.append(Finding(name, line, " ".join(piece.split())))
            pos += len(piece) + 1
    return findings


def check_all(root: Path = TEMPLATES) -> list[Finding]:
    env = Environment(extensions=["jinja2.ext.i18n"])
    findings: list[Finding] = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".html", ".txt") or not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        if name.startswith(PER_LOCALE):
            continue
        findings += check_source(env, name, path.read_text(encoding="utf-8"))
    return findings + missing_copies(root)


def missing_copies(root: Path = TEMPLATES) -> list[Finding]:
    """Every English notification default (notifications/<type>/<file>) without its copy in a shipped
    language (notifications/<lang>/<type>/<file>)."""
    base = root / PER_LOCALE
    out = []
    for path in sorted(base.rglob("*")):
        if path.suffix not in (".html", ".txt") or not path.is_file():
            continue
        rel = path.relative_to(base)
        if rel.parts[0] in LOCALES:
            continue
        for lang in LOCALES:
            if not (base / lang / rel).is_file():
                out.append(Finding(f"{PER_LOCALE}{lang}/{rel.as_posix()}", 1, f"missing: the copy of {rel}"))
    return out


def main() -> int:
    findings = check_all()
    for f in findings:
        print(f)
    print(f"{len(findings)} unmarked text(s) in templates/", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
