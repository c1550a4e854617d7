"""One hostile corpus for every output format (Telegram HTML, the HTML page, Markdown, the
terminal): strings a feed, an archive or a command line may carry, each used as a title, a
source, a summary, a rule name and a URL. Every renderer must keep them text: no tag, no
link other than http(s), no escape sequence, no forged line, and no crash."""

from __future__ import annotations

import re

LONG = "Überschrift & <Wort> " * 5000          # 105,000 characters

HOSTILE: list[str] = [
    # HTML and entities
    "<script>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#x3C;script&#x3E;alert(1)&#60;/script&#62;",
    "<b>bold</b> <img src=x onerror=alert(1)>",
    "&amp; &copy; &nbsp; & AT&T",
    '" onmouseover="alert(1)',
    "<!-- comment --> <?php ?> <![CDATA[x]]>",
    # Markdown
    "](javascript:alert(1))",
    "[x](http://a) ![img](http://a/i.png) [ref]: http://a",
    "`code` ``double`` ```fence```",
    "**bold** __strong__ *em* _em_ ~~strike~~",
    "# heading\n===\n- item\n1. item\n> quote\n    code",
    "<http://autolink.example> <mailto:x@y.z>",
    "\\ backslash at the end \\",
    "|a|b|\n|-|-|",
    "line one  \nline two",
    # terminal
    "\x1b[2J\x1b]0;pwned\x07 cleared",
    "\x9b31m C1 CSI \x9d0;title\x9c",
    "fake\rover written",
    "rev \u202eesrever\u202c and \u2066isolate\u2069",
    "line\u2028separator\u2029paragraph",
    "nul \x00 bell \x07 del \x7f backspace \x08",
    "[red]rich markup[/red] [link=http://evil]x[/link]",
    "{task.description} {0} %s",
    # text as such
    "Kim & Putin: 3 < 4 > 2",
    "lone \udcff surrogate \ud800",
    "emoji 😀 and combining e\u0301",
    LONG,
    # URLs (also shown as text)
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    " \tjava\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/scheme-relative",
    "https://",
    "http://[::1",
    "https://example.com/a b)c<d>\"e'f`g\\h",
    "https://example.com/x)](javascript:alert(1))",
    "https://example.com/?a=1&b=2&lt;script&gt;",
    "https://example.com/\x1b[2J\u202e/\udcff",
    "https://bücher.example/straße?q=ä#frag",
    "HTTP://EXAMPLE.COM/UPPER",
]

# The characters no output may contain (C0 but tab/newline, DEL, C1, separators, bidi
# controls, lone surrogates).
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                    r"\ud800-\udfff]")


def cleaned(text: str) -> str:
    """What every renderer shows of `text`: unsafe characters as spaces, surrogates as
    U+FFFD."""
    return UNSAFE.sub(" ", re.sub(r"[\ud800-\udfff]", "\ufffd", text))


def one_line(text: str) -> str:
    """`cleaned`, on one line: runs of spaces, tabs and newlines one space, ends stripped."""
    return re.sub(r"[ \t\n]+", " ", cleaned(text)).strip()


def is_web_url(text: str) -> bool:
    """Whether the corpus expects a link for this URL (http or https with a host)."""
    stripped = re.sub(r"[\t\n\r]", "", text.strip("".join(map(chr, range(0x21)))))
    return bool(re.match(r"https?://[^/?#\[]", stripped, re.IGNORECASE))
