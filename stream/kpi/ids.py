"""Ids that producers choose, kept as fixed-length digests inside table values.

A table value that holds many ids (the contacts waiting in a queue, the survey answers it
counted, the agents serving it) is one changelog record; with ids of up to 128 characters a
bound far above real use would still pass the broker's message size. A 72-bit digest keeps each
id at 13 characters, and two of the ids one value holds colliding is a chance of about 1 in
10^13.
"""

from __future__ import annotations

import re
from base64 import urlsafe_b64encode
from hashlib import blake2b

_DIGEST = re.compile(r"~[A-Za-z0-9_-]{12}")


def id_key(identifier: str) -> str:
    """The digest of ``identifier``; a digest stays as it is, so values written earlier with
    full ids read into the same keys."""
    if _DIGEST.fullmatch(identifier):
        return identifier
    return "~" + urlsafe_b64encode(blake2b(identifier.encode(), digest_size=9).digest()).decode()
