# The public API of monitor.ingest: what the pipeline and the command line use. Read by type
# checkers, and by lazy_loader at run time (each name is imported from its module when first
# used). tests/test_exported_members.py holds the rooms to it.
from .fetch import Fetcher as Fetcher
from .health import feed_health as feed_health
from .health import next_silence_state as next_silence_state
from .health import usual_gap_text as usual_gap_text
from .normalize import normalize_item as normalize_item
from .normalize import stored_keys as stored_keys
from .opml import OpmlError as OpmlError
from .opml import export_opml as export_opml
from .opml import parse_opml as parse_opml
from .poll import fill_full_text as fill_full_text
from .poll import full_text_status as full_text_status
from .poll import poll_feeds as poll_feeds
from .seeds import SeedCache as SeedCache
from .seeds import SeedError as SeedError
from .seeds import seed_files as seed_files
