"""Second probe, item 16: control characters inside a ``--target`` (a newline in the port) are refused,
not silently dropped by the URL parser."""

from __future__ import annotations

import pytest

from mlpack.errors import BadInputError
from mlpack.remote.ssh import parse_target


@pytest.mark.parametrize("text", ["ssh://host:2\n2", "ssh://ho\tst:22", "ssh://host:22\r\n1", "ssh://us\ner@host"])
def test_control_characters_refused(text: str) -> None:
    with pytest.raises(BadInputError, match="--target"):
        parse_target(text)


def test_a_plain_target_still_parses() -> None:
    assert parse_target("ssh://pi@host:2222").port == 2222
