"""Line and column of keys and string values in a TOML file (rule files, the config).

tomllib gives values without positions, so errors are located here in the source text: the
n-th `[[rules]]` header is the n-th rule, a key is a `key =` line inside its table's block, and
the characters of a string value are mapped back from the decoded string to the file by
walking the literal (escapes included). Anything unusual (inline tables, dotted keys) falls
back to the nearest position known, never to a wrong file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^\s*\[(\[)?\s*([^\]]*?)\s*\]")
_ESCAPES = {"b": 1, "t": 1, "n": 1, "f": 1, "r": 1, '"': 1, "\\": 1, "u": 5, "U": 9}


@dataclass(frozen=True)
class Block:
    """A table's lines: from its header (or the file start) up to the next header."""

    start: int      # 0-based line index of the header (or 0)
    end: int        # 0-based line index after the block
    name: str       # header name with quotes removed, e.g. "rules", "rules.examples"
    array: bool     # [[...]]


class SourceMap:
    def __init__(self, text: str):
        self.text = text
        self.lines = text.split("\n")
        self.line_starts = [0]
        for line in self.lines[:-1]:
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)
        self.blocks = self._blocks()
        # indexes in self.blocks of the [[rules]] headers, built once: rule_block and
        # example_block run per rule and per example, and a scan each time was quadratic
        self._rules = [n for n, b in enumerate(self.blocks) if b.name == "rules" and b.array]

    def _blocks(self) -> list[Block]:
        headers: list[tuple[int, str, bool]] = []
        in_multiline: str | None = None
        for index, line in enumerate(self.lines):
            if in_multiline is None:
                match = _HEADER.match(line)
                if match:
                    name = re.sub(r"\s*\.\s*", ".", match.group(2)).replace('"', "")
                    headers.append((index, name.replace("'", ""), bool(match.group(1))))
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 and in_multiline in (None, quote):
                    in_multiline = None if in_multiline else quote
        blocks = [Block(0, headers[0][0] if headers else len(self.lines), "", False)]
        for number, (index, name, array) in enumerate(headers):
            end = headers[number + 1][0] if number + 1 < len(headers) else len(self.lines)
            blocks.append(Block(index, end, name, array))
        return blocks

    # ---------------------------------------------------------------- finding blocks

    def rule_block(self, rule: int) -> Block | None:
        return self.blocks[self._rules[rule]] if rule < len(self._rules) else None

    def example_block(self, rule: int, example: int) -> Block | None:
        if rule >= len(self._rules):
            return None
        start = self._rules[rule] + 1
        following = rule % len(self._rules) + 1       # the next rule, negative `rule` too
        end = self._rules[following] if following < len(self._rules) else len(self.blocks)
        examples = [block for block in self.blocks[start:end]
                    if block.name == "rules.examples" and block.array]
        return examples[example] if example < len(examples) else None

    def rule_table(self, rule: int, name: str) -> Block | None:
        """A rule's own table such as [rules.spike]: the first block of that name between
        the rule's [[rules]] header and the next one."""
        if rule >= len(self._rules):
            return None
        start = self._rules[rule] + 1
        end = self._rules[rule + 1] if rule + 1 < len(self._rules) else len(self.blocks)
        return next((block for block in self.blocks[start:end]
                     if block.name == name and not block.array), None)

    def table_block(self, name: str, index: int = 0) -> Block | None:
        """The `index`-th block of the table or array of tables `name` ([feeds], [[feeds]])."""
        found = [block for block in self.blocks if block.name == name]
        return found[index] if index < len(found) else None

    def entity_block(self, entity_id: str) -> Block | None:
        for block in self.blocks:
            if block.name == f"entities.{entity_id}":
                return block
        return None

    def top_block(self) -> Block:
        return self.blocks[0]

    # ----------------------------------------------------------------- positions

    def header(self, block: Block | None) -> tuple[int, int]:
        if block is None:
            return 1, 1
        line = self.lines[block.start]
        return block.start + 1, len(line) - len(line.lstrip()) + 1

    def key(self, block: Block | None, key: str) -> tuple[int, int] | None:
        """(line, column) of `key =` inside the block, 1-based."""
        if block is None:
            return None
        pattern = re.compile(rf"^(\s*)(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"
                             rf"\s*=")
        first = block.start + (1 if block.name else 0)
        for index in range(first, block.end):
            match = pattern.match(self.lines[index])
            if match:
                return index + 1, len(match.group(1)) + 1
        return None

    def key_or_header(self, block: Block | None, key: str) -> tuple[int, int]:
        return self.key(block, key) or self.header(block)

    def entity_key(self, entity_id: str, key: str | None = None) -> tuple[int, int]:
        """The entity's own table, or its `id = {...}` line inside [entities]."""
        block = self.entity_block(entity_id)
        if block is not None:
            return self.key(block, key) or self.header(block) if key else self.header(block)
        for candidate in self.blocks:
            if candidate.name == "entities":
                found = self.key(candidate, entity_id)
                if found:
                    return found
        return 1, 1

    def string_position(self, block: Block | None, key: str, value: str,
                        offset: int) -> tuple[int, int] | None:
        """Where character `offset` of the string `value` of `key` stands in the file."""
        where = self.key(block, key)
        if where is None:
            return None
        line, column = where
        start = self.line_starts[line - 1] + column - 1
        equals = self.text.index("=", start)
        literal = equals + 1
        while literal < len(self.text) and self.text[literal] in " \t":
            literal += 1
        offsets = _literal_offsets(self.text, literal, value)
        if offsets is None:
            return None
        return self.line_column(offsets[min(offset, len(offsets) - 1)])

    def line_column(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - self.line_starts[line - 1] + 1

    def line_text(self, line: int) -> str:
        return self.lines[line - 1].rstrip("\r") if 0 < line <= len(self.lines) else ""


def _literal_offsets(text: str, start: int, expected: str) -> list[int] | None:
    """File offsets of each character of the TOML string literal at `start` (plus one for its
    end), or None when the literal does not decode to `expected`."""
    for quote in ('"""', "'''", '"', "'"):
        if text.startswith(quote, start):
            break
    else:
        return None
    basic = quote[0] == '"'
    position = start + len(quote)
    if len(quote) == 3:
        if text.startswith("\r\n", position):
            position += 2
        elif text.startswith("\n", position):
            position += 1
    offsets: list[int] = []
    decoded: list[str] = []
    while position < len(text) and not text.startswith(quote, position):
        char = text[position]
        if basic and char == "\\":
            following = text[position + 1:position + 2]
            if len(quote) == 3 and following in (" ", "\t", "\r", "\n"):
                position += 1          # line-ending backslash: drop whitespace up to text
                while position < len(text) and text[position] in " \t\r\n":
                    position += 1
                continue
            width = _ESCAPES.get(following)
            if width is None:
                return None
            escape = text[position:position + 1 + width]
            try:
                decoded.append(escape.encode("ascii").decode("unicode_escape"))
            except (UnicodeDecodeError, UnicodeEncodeError):
                return None
            offsets.append(position)
            position += 1 + width
            continue
        if char == "\r" and text.startswith("\r\n", position):
            position += 1
            continue
        decoded.append(char)
        offsets.append(position)
        position += 1
    offsets.append(position)
    return offsets if "".join(decoded) == expected else None
