"""Values quoted in messages are short and safe to print."""
import unicodedata

from hypothesis import given, strategies as st

from netbuilder.common.text import SHOWN_CHARACTERS, printable, shown, shown_within


def test_a_huge_value_is_quoted_short_with_both_ends_kept():
    text = shown("a" + "x" * 50_000_000 + "z")
    assert len(text) == SHOWN_CHARACTERS
    assert text.startswith("ax") and text.endswith("xz") and "…" in text


def test_terminal_escapes_and_lone_surrogates_are_written_as_escapes():
    text = shown("name\x1b[2J\x07\r\ud800\u202eend")
    assert text == "name\\x1b[2J\\x07\\x0d\\ud800\\u202eend"
    text.encode("utf-8")  # a lone surrogate would not encode


def test_ordinary_text_is_unchanged():
    assert shown("Conv 3×3 — ünits") == "Conv 3×3 — ünits"


@given(st.text(alphabet=st.characters(), max_size=400))
def test_any_value_gives_printable_encodable_text(value):
    text = shown(value)
    text.encode("utf-8")
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in text)
    assert len(text) <= SHOWN_CHARACTERS * 10  # each kept character escapes to at most 10


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=60), min_size=1, max_size=6))
def test_a_whole_output_keeps_its_lines_and_escapes_everything_else(lines):
    """Tables of class, column and file names: printed whole (no line cut short), every line
    kept, nothing a terminal would run."""
    text = printable("\n".join(lines))
    text.encode("utf-8")
    assert text.split("\n") == [shown(line, limit=len(line) + 1) for line in lines]
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in text.replace("\n", ""))


@given(st.text(alphabet=st.characters(), max_size=60), st.integers(1, 40))
def test_a_value_shown_within_a_width_never_exceeds_it_escapes_included(value, width):
    text = shown_within(value, width)
    assert len(text) <= width
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in text)
    if len(shown(value)) <= width:
        assert text == shown(value)
