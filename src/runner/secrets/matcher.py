"""Finds every occurrence of many literal strings in one pass over a text.

An Aho-Corasick automaton (``ahocorasick_rs``, Rust's ``aho-corasick`` crate)
scans a text once, whatever the number of strings it knows: a 1 MB body against
the 1,600 forms of a hundred secrets costs one linear pass of about 5 ms of CPU.
It was chosen by measurement (``bench/micro.py --only redact``): on the same forms
``pyahocorasick`` takes about 20 ms for that body and 3 µs for a 200-character
message (this one: 1.3 µs), and a regex alternation sorted longest first, which tries
every alternative at each position, takes seconds.

An automaton has to be rebuilt to learn a string, and a run learns secrets as it
goes (tokens, secret captures). Rebuilding everything at each one would make a
run that captures N secrets pay O(N²). Strings learned are therefore kept
pending and, at the next scan, built into a small automaton of their own; two
automata are merged whenever the newer one has grown to half the size of the one
before it, so there are O(log N) of them and each string is rebuilt O(log N)
times. A text at least as long as all the strings together is scanned after
merging everything into one automaton: that costs no more than the scan itself.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ahocorasick_rs import AhoCorasick

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class _Level:
    """One built automaton and the strings in it."""

    automaton: AhoCorasick
    words: tuple[str, ...]
    chars: int

    @classmethod
    def of(cls, words: Iterable[str]) -> _Level:
        ordered = tuple(sorted(words))  # the same strings give the same automaton
        automaton = AhoCorasick(ordered, store_patterns=False)
        return cls(automaton, ordered, sum(map(len, ordered)))


class Matcher:
    """A growing set of literal strings, and the spans where any of them occurs."""

    def __init__(self) -> None:
        self._words: set[str] = set()
        self._pending: set[str] = set()
        self._levels: tuple[_Level, ...] = ()
        self._automata: tuple[AhoCorasick, ...] = ()  # the levels', read on every scan
        self._chars = 0  # characters in all built levels
        self._lock = threading.Lock()  # log filters can run on other threads

    def __len__(self) -> int:
        return len(self._words)

    @property
    def words(self) -> frozenset[str]:
        """Every string known."""
        return frozenset(self._words)

    @property
    def automata(self) -> int:
        """How many automata a scan runs through now (for tests and diagnostics)."""
        return len(self._automata)

    def add(self, words: Iterable[str]) -> None:
        """Learn strings (O(len(words))); they are built into the matcher at the next scan."""
        with self._lock:
            for word in words:
                if word and word not in self._words and _SURROGATE.search(word) is None:
                    self._words.add(word)
                    self._pending.add(word)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Sorted, disjoint ``(start, end)`` spans covering every occurrence of every string.

        Overlapping occurrences are merged, so that one string overlapping another
        cannot leave part of either uncovered.
        """
        automata = self._automata
        if self._pending or (len(automata) > 1 and len(text) >= self._chars):
            automata = self._rebuild(len(text))
        if len(automata) == 1:  # the common case, kept short: it runs on every message
            hits = _find(automata[0], text)
            if not hits:
                return []
        else:
            hits = [hit for automaton in automata for hit in _find(automaton, text)]
        found = sorted((start, end) for _, start, end in hits)
        merged = [found[0]] if found else []
        for start, end in found[1:]:
            last_start, last_end = merged[-1]
            if start < last_end:
                if end > last_end:
                    merged[-1] = (last_start, end)
            else:
                merged.append((start, end))
        return merged

    def _rebuild(self, text_length: int) -> tuple[AhoCorasick, ...]:
        with self._lock:
            levels = list(self._levels)
            if self._pending:
                levels.append(_Level.of(self._pending))
                self._pending = set()
                while len(levels) > 1 and levels[-1].chars * 2 >= levels[-2].chars:
                    newer, older = levels.pop(), levels.pop()
                    levels.append(_Level.of((*older.words, *newer.words)))
            chars = sum(level.chars for level in levels)
            if len(levels) > 1 and text_length >= chars:
                levels = [_Level.of(word for level in levels for word in level.words)]
            self._levels, self._chars = tuple(levels), chars
            self._automata = tuple(level.automaton for level in levels)
            return self._automata


def _find(automaton: AhoCorasick, text: str) -> list[tuple[int, int, int]]:
    """Every (overlapping) occurrence as ``(pattern, start, end)`` character offsets."""
    try:
        return automaton.find_matches_as_indexes(text, True)
    except UnicodeEncodeError:  # a lone surrogate: scan with one character for one
        return automaton.find_matches_as_indexes(_SURROGATE.sub("\ufffd", text), True)
