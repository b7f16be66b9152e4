"""Training settings from text (the command line, a project file): any text gives a value within
the setting's limits or one short printable message that says the limit or the expected form."""
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.layers import ParamError
from netbuilder.core.settings import SETTING_LIMITS

NUMBER_LIKE = st.one_of(st.text(max_size=30), st.from_regex(r"[+-]?\d{1,6000}(\.\d*)?(e[+-]?\d{1,4})?", fullmatch=True),
                        st.sampled_from(["nan", "inf", "-inf", "1e3", "1e999", " 12 ", "10**30", "\x1b[2J"]))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from([name for name, p in SETTING_LIMITS.items() if p.kind in (int, float)]),
       text=NUMBER_LIKE)
def test_any_text_is_a_value_within_the_limits_or_one_short_printable_message(name, text):
    param = SETTING_LIMITS[name]
    try:
        value = param.coerce(text) if param.kind is int else param.coerce(float(text))
    except ValueError as error:  # ParamError, or float() refusing the text before the Param sees it
        message = str(error)
        assert len(message) < 250 and message.isprintable(), message
        if isinstance(error, ParamError) and text.strip().isdigit() and len(text.strip()) > 5:
            limit = int(param.max) if param.kind is int else param.max
            assert f"at most {limit:g}" in message or f"at most {limit}" in message  # it says the limit
    else:
        assert param.min <= value <= param.max and isinstance(value, param.kind)

