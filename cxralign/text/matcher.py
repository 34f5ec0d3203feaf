"""One compiled regular expression that finds every lexicon phrase of a sentence in one pass.

Thousands of phrases as a flat alternation would make the regex engine try each at every
position; merging them into a character trie first gives an expression whose alternatives share
prefixes, so a position is rejected after a character or two. The match is then mapped back to
its entry through the same trie. Phrase syntax (shared by all lexicon tables): lower case words,
a space matches any run of whitespace or hyphens, a trailing ``*`` matches the rest of the word.
Matches never start or end inside a word; a longer phrase wins over a shorter one at the same
start; an exact phrase wins over a ``*`` phrase that matches the same text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SEPARATOR = re.compile(r"[\s\-]+")


@dataclass(frozen=True, slots=True)
class Entry:
    """What a phrase means: ``kind`` (finding, anatomy, attribute, cue kinds, ignore) + payload."""

    kind: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class Mention:
    """One matched phrase: character offsets into the sentence and its entry."""

    start: int
    end: int
    entry: Entry


class _Node:
    __slots__ = ("children", "exact", "stem")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.exact: Entry | None = None
        self.stem: Entry | None = None


def normalise_phrase(text: str) -> str:
    """Lower-case and collapse whitespace/hyphen runs to one space (the lookup key)."""
    return _SEPARATOR.sub(" ", text.lower()).strip()


class PhraseMatcher:
    """Finds the phrases of ``table`` (phrase -> Entry) in text, leftmost-longest.

    ``punctuation`` maps single characters (``;``, ``,``, ``?``) to entries: they are matched
    beside the phrases, without the word-boundary rule.
    """

    def __init__(
        self, table: Mapping[str, Entry], punctuation: Mapping[str, Entry] | None = None
    ) -> None:
        self._root = _Node()
        for phrase, entry in table.items():
            self._insert(phrase, entry)
        body = self._to_regex(self._root)
        pattern = rf"(?<!\w)(?:{body})(?!\w)"
        self._punctuation = dict(punctuation or {})
        if self._punctuation:
            pattern += "|[" + re.escape("".join(sorted(self._punctuation))) + "]"
        self._regex = re.compile(pattern)

    def _insert(self, phrase: str, entry: Entry) -> None:
        stem = phrase.endswith("*")
        key = normalise_phrase(phrase.rstrip("*"))
        node = self._root
        for char in key:
            node = node.children.setdefault(char, _Node())
        previous = node.stem if stem else node.exact
        if previous is not None and previous != entry:
            raise ValueError(f"phrase {phrase!r} has two meanings: {previous} and {entry}")
        if stem:
            node.stem = entry
        else:
            node.exact = entry

    def _to_regex(self, node: _Node) -> str:
        alternatives = []
        for char, child in sorted(node.children.items()):
            head = r"[\s\-]+" if char == " " else re.escape(char)
            alternatives.append(head + self._to_regex(child))
        if node.stem is not None:
            alternatives.append(r"\w*")
        if node.exact is not None:
            alternatives.append("")
        if len(alternatives) == 1:
            return alternatives[0]
        return "(?:" + "|".join(alternatives) + ")"

    def lookup(self, matched: str) -> Entry | None:
        """The entry of a matched text: the exact phrase, else the longest ``*`` stem."""
        key = normalise_phrase(matched)
        node, best = self._root, None
        for index, char in enumerate(key):
            if node.stem is not None and key[index:].replace("_", "").isalnum():
                best = node.stem
            node = node.children.get(char)
            if node is None:
                return best
        return node.exact or node.stem or best

    def scan(self, text: str) -> list[Mention]:
        """All phrase (and punctuation) matches in ``text``, in order, non-overlapping."""
        lowered = text.lower()
        if len(lowered) != len(text):  # rare Unicode case-folding that changes lengths
            lowered = "".join(char.lower()[0] for char in text)
        mentions = []
        for match in self._regex.finditer(lowered):
            start, end = match.span()
            entry = self._punctuation.get(lowered[start]) if end - start == 1 else None
            if entry is None:
                entry = self.lookup(match.group())
            if entry is not None:
                mentions.append(Mention(start, end, entry))
        return mentions
