"""Durations in router.yaml and the environment: seconds (`2.5`) or a number with `ms`, `s` or `m` (`500ms`,
`3s`, `1m`). Shared by every setting that takes a time (traffic, rate limit, entity cache)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """`3s`, `500ms`, `1m` or a number of seconds, as seconds (a float); anything else is left to pydantic."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"expected a duration such as 3s, 500ms or 1m, got {value!r}")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(parse_duration)]
