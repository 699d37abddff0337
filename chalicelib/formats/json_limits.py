"""Cheap checks on a JSON text before it is parsed.

`json.loads` recurses once per nested array or object: ten thousand `[` raise RecursionError deep inside the
parser (after it has spent the time), which no caller expects. `nesting_depth` finds the depth with one pass of
a compiled regex over the structural characters only, so a request is refused before any parsing cost.
"""

from __future__ import annotations

import re

# Every byte that can open or close a level, start or end a string, or escape the next byte inside one.
_STRUCTURE = re.compile(rb'["\\\[\]{}]')


def nesting_depth(raw: bytes, limit: int) -> int:
    """The deepest nesting of arrays and objects in `raw`, counted up to `limit + 1` (then it stops reading:
    the text is refused anyway). Brackets inside strings do not count; the text need not be valid JSON."""
    depth = deepest = 0
    in_string = False
    skip_to = -1  # an escaped byte inside a string: `\"` does not end it, `\\` does not escape the next one
    for match in _STRUCTURE.finditer(raw):
        start = match.start()
        if start < skip_to:
            continue
        char = raw[start]
        if in_string:
            if char == 0x5C:  # backslash
                skip_to = start + 2
            elif char == 0x22:  # quote
                in_string = False
            continue
        if char == 0x22:
            in_string = True
        elif char in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif char in (0x5D, 0x7D) and depth:  # ] }
            depth -= 1
    return deepest
