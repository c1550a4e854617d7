"""Everything a subscriber reads from the bot, in German and English: command answers,
button labels, the command menu. Keys are the same in every language (a test checks).
German is the default for a chat whose language is not known."""

from __future__ import annotations

import re

# Telegram's limit for a button's callback data, in bytes.
MAX_CALLBACK = 64

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "start": "Willkommen beim Medienmonitor. Ich melde neue Artikel zu den Themen, die Sie "
                 "abonnieren.\n\n/rules zeigt die Themen, /subscribe THEMA abonniert eines, "
                 "/help erklärt alles.",
        "help": "<b>Befehle</b>\n/rules – Themen anzeigen\n/subscribe THEMA [instant|digest]\n"
                "/unsubscribe THEMA\n/list – Ihre Abos\n/digest HH:MM [Zeitzone] oder /digest off\n"
                "/watch ANFRAGE – eigene Regel, z. B. <code>Putin NEAR/5 Einladung</code>\n"
                "/unwatch N\n/search ANFRAGE\n/mute THEMA 2h\n/follow THEMA N – neue Meldung, "
                "wenn ein Thema N Quellen hat\n/quiet 22:00-07:00 – Ruhezeit\n"
                "/spike THEMA on|off – Warnung, wenn ein abonniertes Thema plötzlich viel "
                "häufiger vorkommt\n/language de|en – Sprache des Chats\n"
                "/stop – alles über diesen Chat löschen",
        "refused": "Dieser Chat ist für den Medienmonitor nicht freigeschaltet. Bitte wenden Sie "
                   "sich an die Betreiber (Chat-ID {chat_id}).",
        "not_group_admin": "In Gruppen dürfen nur Administratoren Abos ändern.",
        "not_admin": "Dieser Befehl ist den Betreibern vorbehalten.",
        "flood": "Zu viele Befehle – bitte einen Moment warten.",
        "usage_subscribe": "Bitte so: /subscribe THEMA [instant|digest]",
        "usage_unsubscribe": "Bitte so: /unsubscribe THEMA",
        "usage_mute": "Bitte so: /mute THEMA 2h (Dauer: 30m, 2h, 1d …)",
        "usage_spike": "Bitte so: /spike THEMA on oder /spike THEMA off",
        "spike_on": "<b>{name}</b>: Sie werden gewarnt, wenn das Thema plötzlich viel häufiger "
                    "vorkommt als üblich.",
        "spike_off": "<b>{name}</b>: keine Warnungen bei Häufungen mehr.",
        "spike_count": "{count} Meldungen in der letzten Stunde (üblich: {usual})",
        "spike_more": "+{n} weitere Quellen",
        "usage_digest": "Bitte so: /digest 07:30 Europe/Berlin oder /digest off",
        "usage_watch": "Bitte so: /watch Putin AND Kim",
        "usage_unwatch": "Bitte so: /unwatch N (die Nummer aus /list)",
        "usage_search": "Bitte so: /search Putin AND Kim",
        "unknown_rule": "Das Thema <code>{rule}</code> gibt es nicht. /rules zeigt alle.",
        "subscribed": "Abonniert: <b>{name}</b> ({mode}).",
        "mode_changed": "Geändert: <b>{name}</b> jetzt {mode}.",
        "unsubscribed": "Abo beendet: <b>{name}</b>.",
        "not_subscribed": "<code>{rule}</code> ist nicht abonniert.",
        "muted": "<b>{name}</b> ist stumm bis {until}.",
        "digest_set": "Ihr Tagesüberblick kommt um {time} ({tz}).",
        "digest_off": "Kein Tagesüberblick mehr.",
        "bad_tz": "Unbekannte Zeitzone <code>{tz}</code>, z. B. Europe/Berlin.",
        "watch_added": "Eigene Regel {n} gespeichert: <code>{query}</code>",
        "watch_error": "Die Anfrage ist fehlerhaft:\n<pre>{error}</pre>",
        "watch_removed": "Eigene Regel {n} gelöscht.",
        "watch_unknown": "Eine eigene Regel {n} gibt es nicht.",
        "list_empty": "Noch keine Abos. /rules zeigt die Themen.",
        "list_head": "<b>Ihre Abos</b>",
        "list_watches": "<b>Eigene Regeln</b>",
        "list_digest": "Tagesüberblick: {time} ({tz})",
        "list_digest_off": "Tagesüberblick: aus",
        "list_muted": "🔇 bis {until}",
        "list_spike": "📈 Warnung bei Häufung",
        "language_set": "Dieser Chat spricht jetzt Deutsch.",
        "usage_language": "Bitte so: /language de oder /language en",
        "stats": "Artikel: {articles}  Treffer: {matches}\nWarteschlange: {pending}  letzter "
                 "Tagesüberblick: {last_digest}\nTreffer heute: {today}\nFeeds: {ok} in "
                 "Ordnung, {failing} gestört, {silent} verstummt",
        "stats_none": "keine",
        "stats_failing": "  {name}: seit {since} – {error}",
        "stats_silent": "  {name}: verstummt seit {since} – {why}",
        "stats_nothing_new": "nichts Neues",
        "reloaded_summary": "{rules} Regeln",
        "reloaded_errors": "{rules} Regeln, {errors} Fehler (die bisherigen Regeln bleiben "
                           "aktiv)",
        "notice_config": "⚠️ Konfiguration nicht neu geladen: {error}",
        "notice_feed_failing": "⚠️ Feed <b>{name}</b> ist gestört seit {since}: {error}",
        "notice_feed_silent": "⚠️ Feed <b>{name}</b> ist verstummt: er antwortet, bringt aber "
                              "nichts Neues seit {since} (sonst etwa alle {usual}).",
        "notice_feed_not_a_feed": "⚠️ Feed <b>{name}</b> ist verstummt: seine Adresse liefert "
                                  "seit {since} keinen Feed mehr: {error}",
        "notice_feed_recovered": "✅ Feed <b>{name}</b> liefert wieder (verstummt seit "
                                 "{since}).",
        "notice_backlog": "⚠️ Warteschlange: {pending} Nachrichten warten (die älteste seit "
                          "{oldest}).",
        "notice_rule_errors": "⚠️ Die Regeldateien haben Fehler; die bisherigen Regeln bleiben "
                              "aktiv:\n<pre>{errors}</pre>",
        "notice_rule_budget": "⚠️ Regel <b>{rule}</b> ({where}) hat ihr Arbeitsbudget auf "
                              "{count} Artikel(n) überschritten und sie nicht getroffen: "
                              "{message}. Weniger NEARs, kleinere Abstände oder weniger "
                              "*Platzhalter* helfen; `monitor rules explain` zeigt den Artikel.",
        "hint_operator": "💡 „{word}“ wird als Wort gesucht (Operatoren schreibt man groß): "
                         "meinten Sie {fix}?",
        "hint_compound": "💡 „{word}“ steht in {alone} Artikeln allein und in {inside} in "
                         "längeren Wörtern ({examples}): {fix} findet auch diese.",
        "unknown_command": "Diesen Befehl kenne ich nicht. /help zeigt alle Befehle.",
        "free_text": "Ich verstehe nur Befehle. /help zeigt sie, /rules die Themen.",
        "help_admin": "\n\n<b>Für Betreiber</b>\n/stats – Zustand des Monitors\n/reload – Regeln "
                      "neu laden",
        "rules_head": "<b>Themen</b> (Seite {page}/{pages})",
        "search_none": "Keine Treffer im Archiv.",
        "search_head": "<b>Treffer im Archiv</b>",
        "search_no_terms": "(Die Anfrage hat kein Wort, das sich im Archiv nachschlagen "
                           "lässt: durchsucht wurden nur die neuesten Artikel der letzten "
                           "{days} Tage.)",
        "search_no_index": "(Das Archiv wird gerade indiziert: durchsucht wurden nur die "
                           "neuesten Artikel der letzten {days} Tage.)",
        "stopped": "Alles über diesen Chat ist gelöscht. Mit /start geht es wieder los.",
        "reloaded": "Regeln neu geladen: {summary}",
        "query_too_long": "Die Anfrage ist zu lang ({length} Zeichen, höchstens {limit}).",
        "invalid_text": "Die Nachricht enthält Zeichen, die kein gültiger Text sind.",
        "too_many_watches": "Dieser Chat hat schon {limit} eigene Regeln; bitte erst eine mit "
                            "/unwatch N löschen.",
        "search_wait": "Bitte {seconds} Sekunden bis zur nächsten Suche warten.",
        "watch_over_budget": "⚠️ Ihre Regel <code>{query}</code> ist auf manchen Artikeln zu "
                             "aufwendig zu prüfen ({count} bisher): Diese hat sie nicht "
                             "getroffen. Weniger NEARs, kleinere Abstände oder weniger "
                             "*Platzhalter* helfen.",
        "sources_one": "+1 Quelle: {names}",
        "sources": "+{n} Quellen: {names}",
        "sources_more": "und {n} weitere",
        "follow_up_sources": "🧵 <b>{rule}</b>: jetzt {n} Quellen\n{title}",
        "follow_up_headline": "🆕 <b>{rule}</b>: neue Schlagzeile\n{title} <i>({source})</i>",
        "folded": "🌙 <b>{rule}</b>: {n} Meldungen während der Ruhezeit",
        "folded_more": "… und {n} weitere",
        "usage_follow": "Bitte so: /follow THEMA N (eine neue Meldung, sobald ein Thema N "
                        "Quellen hat) oder /follow THEMA off",
        "follow_set": "<b>{name}</b>: eine neue Meldung, sobald ein Thema {n} Quellen hat; "
                      "bis dahin ergänzen weitere Quellen die Meldung still.",
        "follow_off": "<b>{name}</b>: weitere Quellen ergänzen die Meldung still.",
        "usage_quiet": "Bitte so: /quiet 22:00-07:00 oder /quiet off",
        "quiet_set": "Ruhezeit {start}–{end} ({tz}): Meldungen aus dieser Zeit kommen um {end}, "
                     "mehrere zu einem Thema in einer Nachricht.",
        "quiet_off": "Keine Ruhezeit mehr.",
        "list_quiet": "Ruhezeit: {start}–{end} ({tz})",
        "list_follow": "🧵 ab {n} Quellen",
        "button_mute": "1 Tag stumm",
        "button_unsub": "Abbestellen",
        "button_subscribe": "Abonnieren",
    },
    "en": {
        "start": "Welcome to the media monitor. I report new articles on the topics you "
                 "subscribe to.\n\n/rules lists the topics, /subscribe TOPIC subscribes, "
                 "/help explains everything.",
        "help": "<b>Commands</b>\n/rules – list topics\n/subscribe TOPIC [instant|digest]\n"
                "/unsubscribe TOPIC\n/list – your subscriptions\n/digest HH:MM [timezone] or "
                "/digest off\n/watch QUERY – a personal rule, e.g. "
                "<code>Putin NEAR/5 invitation</code>\n/unwatch N\n/search QUERY\n"
                "/mute TOPIC 2h\n/follow TOPIC N – a new alert when a story has N sources\n"
                "/quiet 22:00-07:00 – quiet hours\n/spike TOPIC on|off – a warning when a "
                "subscribed topic suddenly comes up far more often than usual\n"
                "/language de|en – the chat's language\n/stop – forget everything about this chat",
        "refused": "This chat is not enabled for the media monitor. Please ask the operators "
                   "(chat id {chat_id}).",
        "not_group_admin": "In groups only administrators can change subscriptions.",
        "not_admin": "This command is for operators only.",
        "flood": "Too many commands – please wait a moment.",
        "usage_subscribe": "Usage: /subscribe TOPIC [instant|digest]",
        "usage_unsubscribe": "Usage: /unsubscribe TOPIC",
        "usage_mute": "Usage: /mute TOPIC 2h (durations: 30m, 2h, 1d …)",
        "usage_spike": "Usage: /spike TOPIC on or /spike TOPIC off",
        "spike_on": "<b>{name}</b>: you will be warned when the topic suddenly comes up far "
                    "more often than usual.",
        "spike_off": "<b>{name}</b>: no more warnings of surges.",
        "spike_count": "{count} reports in the last hour (usual: {usual})",
        "spike_more": "+{n} more sources",
        "usage_digest": "Usage: /digest 07:30 Europe/London or /digest off",
        "usage_watch": "Usage: /watch Putin AND Kim",
        "usage_unwatch": "Usage: /unwatch N (the number from /list)",
        "usage_search": "Usage: /search Putin AND Kim",
        "unknown_rule": "There is no topic <code>{rule}</code>. /rules lists them all.",
        "subscribed": "Subscribed: <b>{name}</b> ({mode}).",
        "mode_changed": "Changed: <b>{name}</b> is now {mode}.",
        "unsubscribed": "Unsubscribed: <b>{name}</b>.",
        "not_subscribed": "You are not subscribed to <code>{rule}</code>.",
        "muted": "<b>{name}</b> is muted until {until}.",
        "digest_set": "Your daily digest arrives at {time} ({tz}).",
        "digest_off": "No more daily digest.",
        "bad_tz": "Unknown timezone <code>{tz}</code>, e.g. Europe/London.",
        "watch_added": "Personal rule {n} saved: <code>{query}</code>",
        "watch_error": "The query has an error:\n<pre>{error}</pre>",
        "watch_removed": "Personal rule {n} removed.",
        "watch_unknown": "There is no personal rule {n}.",
        "list_empty": "No subscriptions yet. /rules lists the topics.",
        "list_head": "<b>Your subscriptions</b>",
        "list_watches": "<b>Personal rules</b>",
        "list_digest": "Daily digest: {time} ({tz})",
        "list_digest_off": "Daily digest: off",
        "list_muted": "🔇 until {until}",
        "list_spike": "📈 surge warnings",
        "language_set": "This chat speaks English now.",
        "usage_language": "Usage: /language de or /language en",
        "stats": "articles: {articles}  matches: {matches}\noutbox pending: {pending}  last "
                 "digest: {last_digest}\nmatches today: {today}\nfeeds: {ok} ok, {failing} "
                 "failing, {silent} silent",
        "stats_none": "none",
        "stats_failing": "  {name}: since {since} – {error}",
        "stats_silent": "  {name}: silent since {since} – {why}",
        "stats_nothing_new": "nothing new",
        "reloaded_summary": "{rules} rules",
        "reloaded_errors": "{rules} rules, {errors} errors (the previous rules stay active)",
        "notice_config": "⚠️ Config not reloaded: {error}",
        "notice_feed_failing": "⚠️ Feed <b>{name}</b> fails since {since}: {error}",
        "notice_feed_silent": "⚠️ Feed <b>{name}</b> has gone silent: it answers but has "
                              "brought nothing new since {since} (usually every {usual} or so).",
        "notice_feed_not_a_feed": "⚠️ Feed <b>{name}</b> has gone silent: its address has "
                                  "answered with no feed since {since}: {error}",
        "notice_feed_recovered": "✅ Feed <b>{name}</b> is back (silent since {since}).",
        "notice_backlog": "⚠️ Outbox backlog: {pending} messages waiting (the oldest since "
                          "{oldest}).",
        "notice_rule_errors": "⚠️ Rule files have errors; the previous rules stay active:\n"
                              "<pre>{errors}</pre>",
        "notice_rule_budget": "⚠️ Rule <b>{rule}</b> ({where}) ran out of its work budget on "
                              "{count} article(s) and did not match them: {message}. Fewer "
                              "NEARs, smaller distances or fewer *wildcards* help; `monitor "
                              "rules explain` shows the article.",
        "hint_operator": "💡 '{word}' is searched as a word (operators are upper case): did "
                         "you mean {fix}?",
        "hint_compound": "💡 '{word}' stands alone in {alone} articles and inside longer words "
                         "in {inside} ({examples}): {fix} finds those too.",
        "unknown_command": "I do not know this command. /help lists them all.",
        "free_text": "I only understand commands. /help lists them, /rules the topics.",
        "help_admin": "\n\n<b>For operators</b>\n/stats – the monitor's state\n/reload – "
                      "reload the rules",
        "rules_head": "<b>Topics</b> (page {page}/{pages})",
        "search_none": "Nothing in the archive.",
        "search_head": "<b>Archive matches</b>",
        "search_no_terms": "(The query has no word to look up in the archive: only the "
                           "newest articles of the last {days} days were searched.)",
        "search_no_index": "(The archive is being indexed: only the newest articles of the "
                           "last {days} days were searched.)",
        "stopped": "Everything about this chat is forgotten. /start to begin again.",
        "reloaded": "Rules reloaded: {summary}",
        "query_too_long": "The query is too long ({length} characters, at most {limit}).",
        "invalid_text": "The message contains characters that are not valid text.",
        "too_many_watches": "This chat has {limit} personal rules already; please remove one "
                            "with /unwatch N first.",
        "search_wait": "Please wait {seconds} seconds before the next search.",
        "watch_over_budget": "⚠️ Your rule <code>{query}</code> takes too much work to check on "
                             "some articles ({count} so far): it did not match those. Fewer "
                             "NEARs, smaller distances or fewer *wildcards* help.",
        "sources_one": "+1 source: {names}",
        "sources": "+{n} sources: {names}",
        "sources_more": "and {n} more",
        "follow_up_sources": "🧵 <b>{rule}</b>: {n} sources now\n{title}",
        "follow_up_headline": "🆕 <b>{rule}</b>: a new headline\n{title} <i>({source})</i>",
        "folded": "🌙 <b>{rule}</b>: {n} alerts during quiet hours",
        "folded_more": "… and {n} more",
        "usage_follow": "Usage: /follow TOPIC N (a new alert once a story has N sources) or "
                        "/follow TOPIC off",
        "follow_set": "<b>{name}</b>: a new alert once a story has {n} sources; until then "
                      "further sources are added to the alert silently.",
        "follow_off": "<b>{name}</b>: further sources are added to the alert silently.",
        "usage_quiet": "Usage: /quiet 22:00-07:00 or /quiet off",
        "quiet_set": "Quiet hours {start}–{end} ({tz}): alerts of that time arrive at {end}, "
                     "several of one topic in one message.",
        "quiet_off": "No more quiet hours.",
        "list_quiet": "Quiet hours: {start}–{end} ({tz})",
        "list_follow": "🧵 from {n} sources",
        "button_mute": "Mute 1 day",
        "button_unsub": "Unsubscribe",
        "button_subscribe": "Subscribe",
    },
}

COMMANDS = [
    ("start", "Start / Willkommen"), ("help", "Help / Hilfe"), ("rules", "Topics / Themen"),
    ("subscribe", "Subscribe / Abonnieren"), ("unsubscribe", "Unsubscribe / Abbestellen"),
    ("list", "My subscriptions / Meine Abos"), ("digest", "Daily digest / Tagesüberblick"),
    ("watch", "Personal rule / Eigene Regel"), ("unwatch", "Remove personal rule"),
    ("search", "Search the archive / Archiv durchsuchen"), ("mute", "Mute a topic / Stumm"),
    ("follow", "Ping again at N sources / Erneut melden ab N Quellen"),
    ("quiet", "Quiet hours / Ruhezeit"),
    ("spike", "Surge warnings / Warnung bei Häufung: on, off"),
    ("language", "Language / Sprache: de, en"), ("stop", "Forget this chat / Chat löschen"),
]


def alert_buttons(rule_id: str, language: str) -> tuple[tuple[str, str], ...]:
    """Inline buttons under an alert; left out when the rule id is too long for callback data."""
    texts = TEXTS[language if language in TEXTS else "de"]
    mute, unsub = f"mute:{rule_id}:1d", f"unsub:{rule_id}"
    if len(mute.encode()) > MAX_CALLBACK:
        return ()
    return ((texts["button_mute"], mute), (texts["button_unsub"], unsub))


# The query parser's messages (matching/query.py) in German, by pattern; a message not
# listed stays in English (a test holds every message the parser can give to this list).
_PARTS_DE = {"a term": "ein Begriff", "a term or ')'": "ein Begriff oder ')'", "')'": "')'",
             "an operator": "ein Operator", "the end of the query": "das Ende der Anfrage"}
QUERY_ERRORS_DE: list[tuple[str, str]] = [
    (r"the query is longer than (\d+) characters \((\d+)\)",
     r"die Anfrage ist länger als \1 Zeichen (\2)"),
    (r"the query is empty", "die Anfrage ist leer"),
    (r"the query contains characters that are not valid text",
     "die Anfrage enthält Zeichen, die kein gültiger Text sind"),
    (r"more than (\d+) levels of parentheses", r"mehr als \1 Klammerebenen"),
    (r"more than (\d+) terms", r"mehr als \1 Begriffe"),
    (r"more than (\d+) wildcards", r"mehr als \1 Platzhalter"),
    (r"a term cannot be negated twice", "ein Begriff kann nicht doppelt verneint werden"),
    (r"a term can have only one field", "ein Begriff kann nur ein Feld haben"),
    (r"this quotation mark is never closed", "dieses Anführungszeichen wird nie geschlossen"),
    (r"'-' must stand directly before a term, as in -Trump",
     "'-' muss direkt vor einem Begriff stehen, wie in -Trump"),
    (r"unexpected character (.+)", r"unerwartetes Zeichen \1"),
    (r"expected '\)' to close the '\(' at column (\d+)",
     r"')' fehlt zur '(' in Spalte \1"),
    (r"the query ends where a term is expected",
     "die Anfrage endet, wo ein Begriff stehen muss"),
    (r"'\)' without a matching '\('", "')' ohne passende '('"),
    (r"expected (a term or '\)'|a term|'\)'|an operator), found (.+)",
     "erwartet: {1}, gefunden: {2}"),
    (r"(.+) has no letters or digits", r"\1 enthält keine Buchstaben oder Ziffern"),
    (r"'\*' can only stand at the start or the end of a word",
     "'*' darf nur am Anfang oder am Ende eines Wortes stehen"),
    (r"a wildcard works within one word: (.+)",
     r"ein Platzhalter wirkt nur innerhalb eines Wortes: \1"),
    (r"a wildcard needs at least (\d+) letters or digits besides '\*': (.+)",
     r"ein Platzhalter braucht mindestens \1 Buchstaben oder Ziffern außer '*': \2"),
    (r"'@' must be followed by an entity id, as in @putin",
     "nach '@' muss eine Entitäts-ID folgen, wie in @putin"),
    (r"unknown entity '@([^']*)' \(did you mean (.+)\?\)",
     r"unbekannte Entität '@\1' (meinten Sie \2?)"),
    (r"unknown entity '@([^']*)'", r"unbekannte Entität '@\1'"),
    (r"entity '@([^']*)' has no alias with letters or digits",
     r"die Entität '@\1' hat keinen Alias mit Buchstaben oder Ziffern"),
    (r"lang: needs a language code such as de, en or ru",
     "lang: braucht einen Sprachcode wie de, en oder ru"),
    (r"source: needs a feed name or a domain, as in source:tagesschau",
     "source: braucht einen Feed-Namen oder eine Domain, wie in source:tagesschau"),
    (r"(\w+): cannot contain another field", r"\1: kann kein weiteres Feld enthalten"),
    (r"NEAR needs words, phrases, wildcards, entities or OR-groups of these on both sides",
     "NEAR braucht auf beiden Seiten Wörter, Phrasen, Platzhalter, Entitäten oder "
     "OR-Gruppen davon"),
    (r"NEAR can join at most (\d+) operands, nested NEARs included",
     r"NEAR verbindet höchstens \1 Operanden, verschachtelte NEARs mitgezählt"),
    (r"NEAR/n needs a distance n from 1 to (\d+), written with the digits 0-9",
     r"NEAR/n braucht einen Abstand n von 1 bis \1, mit den Ziffern 0-9 geschrieben"),
]


def query_error_text(message: str, language: str) -> str:
    """A parser message in the chat's language."""
    if language != "de":
        return message
    for pattern, german in QUERY_ERRORS_DE:
        found = re.fullmatch(pattern, message, re.DOTALL)
        if found:
            if "{1}" in german:      # the parts of "expected X, found Y" translated too
                return german.format(None, *(_PARTS_DE.get(part, part)
                                             for part in found.groups()))
            return found.expand(german)
    return message
