"""An answer that lists several things is taken only when every item of the list was understood:
one item garbled and the rest taken silently drops what the person named (a wrong answer)."""
from __future__ import annotations

import pytest

from voicecheck.interfaces import Heard

from test_understanding import matcher, said  # noqa: F401 - the module's matcher fixture and decision summary


def heard(matcher, text: str) -> str:
    return said(matcher.understand("situations", Heard(text)))


@pytest.mark.parametrize("text", [
    "階段を下りるときと、坂道",  # an item that names nothing
    "下りの階段と、はちあがるときです",  # 立ち上がる garbled (live, under a TV)
    "階段の降りるときもあるし、階段なところでもある。",  # 平らな heard as 階段 (bench, older voice)
    "飼い団の降りるときもあるし、飼い団なところでもある",  # the same word again, garbled alike
])
def test_a_list_with_an_item_not_understood_is_read_back(matcher, text):
    assert heard(matcher, text) == "confirm:stairs_down"


@pytest.mark.parametrize("text, taken", [
    ("階段を下りるときと立ち上がるとき", "stairs_down+standing_up"),
    ("下りの階段と、あと椅子から立つときもあるね", "stairs_down+standing_up"),
    ("階段とか段差とか", "stairs_down"),  # one thing named twice in other words
    ("階段と、振り返るとき", "stairs_down+turning"),
    ("1番と3番", "stairs_down+standing_up"),
    ("階段を下りるときです", "stairs_down"),
])
def test_a_list_whose_every_item_names_an_answer_is_taken(matcher, text, taken):
    assert heard(matcher, text) == f"accept:{taken}"

