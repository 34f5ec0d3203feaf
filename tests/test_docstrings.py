"""``--help`` texts and asset descriptions are plain text: no reST markup reaches a person."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from cxralign.cli import build_parser
from cxralign.docstrings import paragraphs, plain_text

REST_MARKUP = re.compile(r"``|:[a-z]+:`")


def test_plain_text_drops_roles_and_double_backticks():
    doc = """Train with :class:`~cxralign.train.settings.PretrainSettings` (see :mod:`cxralign.io`
        and :func:`load <cxralign.models.recipes.load_recipe>`).

        Run ``cxralign pretrain --recipe asg``; keep `single` quotes.
        """
    assert plain_text(doc) == (
        "Train with `PretrainSettings` (see `cxralign.io`\n"
        "and `load`).\n\n"
        "Run `cxralign pretrain --recipe asg`; keep `single` quotes."
    )
    assert paragraphs(doc) == [
        "Train with `PretrainSettings` (see `cxralign.io` and `load`).",
        "Run `cxralign pretrain --recipe asg`; keep `single` quotes.",
    ]
    assert plain_text(None) == "" and paragraphs("") == []


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_help_text_is_plain():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 15  # every command and sub-command
    for parser in parsers:
        text = parser.format_help()
        assert not REST_MARKUP.search(text), f"{parser.prog}: {REST_MARKUP.search(text)}"


@pytest.mark.parametrize("text", ["``x``", ":class:`y`"])
def test_the_markup_check_can_fail(text: str):
    assert REST_MARKUP.search(text)
