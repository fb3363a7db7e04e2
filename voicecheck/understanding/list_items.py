"""The items of an answer that lists several things, each understood on its own.

At a question of several answers people list them (「階段を下りるときと、立ち上がるとき」
「下りるときもあるし、歩いているときもある」). When the recogniser garbles one item, the items
that were understood still make a confident answer, and taking it silently drops what the person
named: a wrong answer that changes the advice. Seen: 「階段の降りるときもあるし、階段なところでもある」
(平らなところ heard as 階段, on the bench's older voice) was taken as the stairs alone, and so would
be 「…階段とはちあがるときです」 (立ち上がる garbled, live under a TV). So such an answer is read
back when one of its items

- has words of its own but names nothing (「坂道」 of 「階段を下りるときと、坂道」), or
- names only with words already said in an earlier item (the second 階段 above: nobody lists
  the same thing twice; 「階段とか段差とか」 names it twice in other words, and is taken).

Items are cut at the joints of a list: と・や・とか after a word that names an answer, し
(「…もあるし」), and the linking words that add one more (あと, それから).
"""
from __future__ import annotations

from collections.abc import Sequence

from voicecheck.understanding.evidence import Evidence
from voicecheck.understanding.utterance import Utterance, is_content

LIST_ITEM_NOT_UNDERSTOOD = "list_item_not_understood"  # the caution of such an answer


def _is_joint(u: Utterance, i: int, covered: Sequence[bool], adding: frozenset[str]) -> bool:
    t = u.tokens[i]
    if t.pos == "助詞" and t.pos1 == "並立助詞":
        return True  # と, や, とか, だの
    if t.pos == "助詞" and t.pos1 == "接続助詞" and t.base == "し":
        return True  # 「…もあるし、…もある」
    if t.pos == "助詞" and t.pos1 == "格助詞" and t.base == "と":
        # 「階段と…」 lists; 「友達と歩くとき」 does not: only after a word that names an answer.
        return i > 0 and covered[i - 1]
    return t.base in adding or t.surface in adding


def list_items(u: Utterance, covered: Sequence[bool], adding: frozenset[str]) -> list[tuple[int, int]]:
    """Word spans (first, last) of the items, the joints left out."""
    items, start = [], 0
    for i in range(len(u.tokens)):
        if _is_joint(u, i, covered, adding):
            if i > start:
                items.append((start, i - 1))
            start = i + 1
    if start < len(u.tokens):
        items.append((start, len(u.tokens) - 1))
    return items


def item_not_understood(u: Utterance, answers: Sequence[Evidence], covered: Sequence[bool],
                        neutral: frozenset[str], adding: frozenset[str]) -> bool:
    """True when an answer of several items has an item that names nothing, or only repeats words."""
    items = list_items(u, covered, adding)
    if len(items) < 2:
        return False
    said_before: set[str] = set()
    for lo, hi in items:
        words = [k for k in range(lo, hi + 1) if is_content(u.tokens[k], neutral)]
        naming = [e for e in answers if lo <= e.first <= hi]
        if words and not naming:
            return True
        named_with = {u.tokens[k].reading for k in range(lo, hi + 1) if covered[k] and u.tokens[k].reading
                      and not u.tokens[k].is_boundary and not u.tokens[k].is_function}
        if said_before and named_with and named_with <= said_before:
            return True
        said_before |= named_with
    return False
