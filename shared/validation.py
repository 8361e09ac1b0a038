"""Say why a channel body failed validation without repeating what it held.

Channel bodies carry customers' names, addresses, e-mails and phone numbers. A reason built from
them is logged and stored (hold reasons, exceptions), so it names where and what was wrong,
never the value: `str(ValidationError)` would include each error's `input_value`.
"""

from __future__ import annotations

from pydantic import ValidationError

MAX_ERRORS = 10
REDACTED = "<input>"


def describe(exc: ValidationError) -> str:
    """`location: message` per error (at most MAX_ERRORS), input values left out.

    pydantic's own messages do not quote the input, but a validator's message may (and a union
    tag error does): any input string found in a message is replaced by REDACTED. Locations are
    model field names and list indices (the channel models ignore unknown keys and have no
    dict-keyed fields, so no location comes from the body's data).
    """
    errors = exc.errors(include_url=False, include_context=False)
    parts = []
    for err in errors[:MAX_ERRORS]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        message = err["msg"]
        value = err.get("input")
        if isinstance(value, str) and value.strip() and value in message:
            message = message.replace(value, REDACTED)
        parts.append(f"{where}: {message}")
    if len(errors) > MAX_ERRORS:
        parts.append(f"and {len(errors) - MAX_ERRORS} more")
    return "; ".join(parts)
