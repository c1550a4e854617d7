"""The fast path copies a few feedparser internals instead of importing private names
(monitor/ingest/fastfeed.py, monitor/ingest/feeddates.py). Each copy is compared here with the
installed feedparser, so an upgrade that adds an element handler, a date handler, an HTML
element or a URI scheme, or changes how it joins URLs or guesses HTML, fails a test instead
of making the two parse paths drift apart silently.

Only tests may use feedparser's private names."""

from __future__ import annotations

import inspect

import feedparser.datetimes
import feedparser.datetimes.greek
import feedparser.datetimes.iso8601
import feedparser.datetimes.perforce
import feedparser.datetimes.rfc822
import feedparser.datetimes.w3dtf
import feedparser.urls
import pytest
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _HTMLSanitizer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.ingest import fastfeed, feeddates

# ------------------------------------------------------------------ fastfeed's copied tables


def test_the_element_names_are_those_feedparser_has_handlers_for():
    handled = {name.removeprefix("_start_") for name in dir(_FeedParserMixin)
               if name.startswith("_start_")}
    handled |= {name.removeprefix("_end_") for name in dir(_FeedParserMixin)
                if name.startswith("_end_")}

    assert fastfeed.FEEDPARSER_ELEMENTS == handled


@pytest.mark.parametrize(("prefix", "local"), [
    (None, "title"), (None, "textInput"), (None, "nonsense"), ("googleplay", "description"),
    ("dc", "creator"), ("psc", "chapters"), ("georss", "point"), ("feedburner", "origLink"),
    ("feedburner", "browserFriendly"), ("slash", "comments"), ("wfw", "commentRss"),
])
def test_an_element_is_known_exactly_when_feedparser_has_a_handler(prefix, local):
    name = f"{prefix}_{local}" if prefix else local
    feedparser_knows = (hasattr(_FeedParserMixin, f"_start_{name}")
                        or hasattr(_FeedParserMixin, f"_end_{name}"))

    assert fastfeed._feedparser_handles(prefix, local) == feedparser_knows


def test_the_html_elements_are_those_feedparser_lets_through():
    assert fastfeed.HTML_ELEMENTS == _HTMLSanitizer.acceptable_elements


def test_the_uri_schemes_are_those_feedparser_accepts():
    assert fastfeed.URI_SCHEMES == set(feedparser.urls.ACCEPTABLE_URI_SCHEMES)
    assert fastfeed._URI_FIXER.pattern == feedparser.urls._urifixer.pattern


# ------------------------------------------------------------------- fastfeed's copied logic

_html_pieces = st.sampled_from([
    "<p>", "</p>", "<b>", "</b>", "<br>", "<br/>", "</br>", "<script>", "</script>",
    "</SPAN>", "<Div>", "</blink>", "</x1>", "&amp;", "&nbsp;", "&#160;", "&#x2014;", "&bogus;",
    "&AMP;", "&", ";", "<", ">", "/", "a < b", "x > y", "Plain words ", "Café ", "</ü>",
    "&auml;", "&ouml", "tag</", "<3", "text", " ", "\n",
])


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.lists(_html_pieces, max_size=8).map("".join), st.text(max_size=30)))
@example("Tom &amp; Jerry")
@example("<p>one</p><custom>two</custom>")
def test_looks_like_html_agrees_with_feedparser(text):
    assert fastfeed._looks_like_html(text) == _FeedParserMixin.looks_like_html(text)


_bases = st.sampled_from([
    "", "https://example.com/", "https://example.com/dir/page.html", "http://a.example/b/c?d#e",
    "HTTP://Example.com/x/", "ftp://files.example/pub/", "javascript:alert(1)",
    "data:text/html,x", "mailto:a@example.com", "feed://example.com/rss", "file:///tmp/x/",
    "https://[::1]/x/", "//example.com/scheme-relative/", "relative/base/",
])
_references = st.sampled_from([
    "", "/", "page", "../up", "./here", "?q=1", "#frag", "//other.example/x",
    "https://abs.example/y", "http:///three-slashes", "https:////four/slashes",
    "javascript:alert(1)", "JAVASCRIPT:x", "mailto:b@example.com", "custom-scheme://x",
    "a,b://x", "https://[bad/", "http://[::1]:80/", " https://spaced.example/ ", "ümlaut/ü",
    "x:y", "svn+ssh://host/repo",
])


@settings(max_examples=800, deadline=None)
@given(_bases, _references)
def test_joining_uris_agrees_with_feedparser(base, reference):
    assert fastfeed._join_uri(base, reference) == feedparser.urls._urljoin(base, reference)
    if base and reference:                  # the only way fastfeed resolves xml:base
        assert fastfeed._safe_absolute_uri(base, reference) == \
            feedparser.urls.make_safe_absolute_uri(base, reference)


# -------------------------------------------------------------- feeddates' copied tables


def test_feedparser_tries_the_date_handlers_feeddates_replays_in_this_order():
    # Registered last comes first. feeddates replays w3dtf, rfc822, iso8601 and asctime, and
    # leaves to feedparser what the perforce and greek handlers read; hungarian and the two
    # Korean handlers need four leading digits, which iso8601 always claims first.
    assert [handler.__name__ for handler in feedparser.datetimes._date_handlers] == [
        "_parse_date_w3dtf", "_parse_date_rfc822", "_parse_date_iso8601",
        "_parse_date_asctime", "_parse_date_perforce", "_parse_date_hungarian",
        "_parse_date_greek", "_parse_date_nate", "_parse_date_onblog",
    ]


def test_the_zone_day_and_month_names_are_feedparsers():
    assert feeddates._RFC822_ZONES == feedparser.datetimes.rfc822.timezone_names
    assert feeddates._W3DTF_ZONES == feedparser.datetimes.w3dtf.timezonenames
    assert feeddates._DAY_NAMES == feedparser.datetimes.rfc822.day_names
    assert feeddates._MONTHS == feedparser.datetimes.rfc822.months


def test_the_iso8601_templates_are_feedparsers():
    assert [match.__self__.pattern for match in feeddates._ISO8601_MATCHERS] == \
        feedparser.datetimes.iso8601._iso8601_re


def test_the_shapes_left_to_feedparser_are_those_of_its_perforce_and_greek_handlers():
    assert f"r'{feeddates._PERFORCE.pattern}'" in \
        inspect.getsource(feedparser.datetimes.perforce._parse_date_perforce)
    assert feeddates._GREEK.pattern == \
        feedparser.datetimes.greek._greek_date_format_re.pattern
