"""Ingest: seed files and feeds in, normalised articles out.

Each module is one step the pipeline (monitor/pipeline.py) calls in order; none of them calls
another step or touches the database:

- `fetch`: HTTP with hard limits (time, size, redirects) that reports trouble instead of raising.
- `parse`: feed bytes → `ParsedFeed` (RSS, Atom, RDF via feedparser; JSON Feed by hand).
- `fastfeed`: the same for well-formed RSS/Atom/RDF via lxml, ~10x faster, equal results.
- `poll`: many feeds at once, and full-text pages for feeds that ask for them.
- `health`: a feed's next fetch state (validators, error count, backoff), its silence.
- `normalize`: clean text, canonical URLs, language, content hash → `Article`.
- `seeds`: the files in `seeds/`.
- `opml`: feed lists in and out.
"""

import lazy_loader

# The names are those of __init__.pyi, imported when first used: a command that lists
# feeds does not load the feed parsers.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
