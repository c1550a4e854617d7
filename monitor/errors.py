"""The monitor's exceptions: one base per package, so that a caller can catch a whole room.

Every message is written for the person who has to act on it (it names the file and line,
the feed, the key or the environment variable), never holds a secret, and is printed as it
is: the CLI shows it in one line and exits 1, the bot shows it in the chat.

    MonitorError
     ├── ConfigError            config.py: the config file cannot be used
     ├── StoreError             monitor.store: the database cannot be used as asked
     │    ├── InstanceLocked    another monitor process holds this database
     │    ├── FeedExists        `feeds add` of a URL that is stored already
     │    └── FeedConflict      a feed name is taken by another URL
     ├── IngestError            monitor.ingest
     │    ├── FetchError        a fetch that must stop (body over the cap, refused address)
     │    ├── AddressRefused    a feed's host resolves to an address we do not fetch
     │    ├── FeedError         nothing usable came out of a feed's body
     │    └── OpmlError         not an OPML document we can read
     ├── MatchingError          monitor.matching
     │    ├── QuerySyntaxError  a query that cannot be used (also a ValueError)
     │    └── RuleErrors        the rule files cannot be used; `.errors` lists every problem
     └── DeliveryError          monitor.deliver
          └── TokenRejected     Telegram refused the bot token

Internal signals that never leave their module (a rule over its budget, a feed the fast
parser leaves to feedparser, an unreadable seed) are private exceptions there.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Anything the monitor reports as a problem of its input or environment."""


class IngestError(MonitorError):
    """Seeds, feeds, pages and OPML that cannot be used."""


class MatchingError(MonitorError):
    """Rules and queries that cannot be used."""


class DeliveryError(MonitorError):
    """Telegram, the outbox and the bot."""
