# The public API of monitor.deliver: what the pipeline, the service, the digest and the
# command line use. Read by type checkers, and by lazy_loader at run time (each name is
# imported from its module when first used, so that printing an alert line does not import
# python-telegram-bot). tests/test_exported_members.py holds the rooms to it.
from .alerts import follow_up_text as follow_up_text
from .bot import MonitorBot as MonitorBot
from .catalog import RulesCatalog as RulesCatalog
from .outbox import Dispatcher as Dispatcher
from .outbox import DispatchReport as DispatchReport
from .render import MAX_TEXT as MAX_TEXT
from .render import bold_spans as bold_spans
from .render import console_alert_line as console_alert_line
from .render import escape as escape
from .render import html_to_plain as html_to_plain
from .render import linked as linked
from .render import local_time as local_time
from .render import markdown_bold as markdown_bold
from .render import markdown_text as markdown_text
from .render import markdown_url as markdown_url
from .render import split_message as split_message
from .render import terminal_json as terminal_json
from .render import terminal_safe as terminal_safe
from .render import visible_length as visible_length
from .senders import TokenRejected as TokenRejected
from .senders import telegram_sender as telegram_sender
from .texts import TEXTS as TEXTS
