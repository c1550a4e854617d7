"""Delivery: alerts rendered and sent through the outbox (Telegram or the console), the
Telegram bot's commands, and the rule catalog the bot shows."""

import lazy_loader

# The names are those of __init__.pyi, imported when first used: a command that prints an
# alert line does not import python-telegram-bot.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
