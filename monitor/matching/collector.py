"""Python's cycle collector and the engine's millions of long-lived objects: keeping the
collector from walking them again and again (a rule set's index, an article's working set,
a large rule set's parse), where nothing it could free is among them."""

from __future__ import annotations

import gc

FREEZE_FROM = 1_000      # rules: from here on, an index kept for long pays for a freeze


def out_of_collectors_sight() -> None:
    """Move what the process holds now, the index just built among it, out of the reach of
    Python's cycle collector.

    A large index is millions of long-lived objects (100,000 rules: about 2.8 million), and
    the collector walks all of them in every full collection, which matching triggered
    about once per 1,500 articles: at 100,000 rules that was a quarter of the matching time.
    Frozen objects are still freed by reference counting, and an index has no reference
    cycles, so a replaced index is freed as soon as it is dropped, frozen or not. What was
    frozen before is unfrozen and collected first (that full collection walks the whole
    process, a fifth of a second at 10,000 rules, so it is done once per rule set); still,
    freezing takes everything alive at that moment with it (the event loop's objects too),
    and whatever of that later becomes cyclic garbage waits for the next rule set.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class CollectorPaused:
    """Python's cycle collector paused for work that makes many objects and no reference
    cycles (unless it is off anyway, or paused by such work in another thread).

    Matching makes a few hundred to a few thousand short-lived containers per article (the
    view, hits, matches), which reference counting frees; but the collector, which runs
    every 700 new containers, would walk the article's live working set again and again
    while it is matched (measured: a tenth of matching time at 100,000 rules). Loading and
    compiling a large rule set is millions of containers that all stay: at 100,000 rules
    the collector walked them 15 times over (4 s of a 17 s load) and found nothing to free.
    Paused, it runs right after the work if it is due."""

    __slots__ = ("paused",)

    def __enter__(self) -> None:
        self.paused = gc.isenabled()
        if self.paused:
            gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.paused:
            gc.enable()
