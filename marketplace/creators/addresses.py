"""One delivery address, however it is typed: the key that links creator accounts receiving products at the same door.

A ghoster who opens a new account still needs the product delivered somewhere; deals shipped to an address whose
earlier deals were ghosted count against the new account too (``marketplace.reputation.services``). The key is a
digest of the normalised street lines, postal code and country (city and region are left out: they are written
too many ways and add nothing once the postal code is known).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WORDS = {
    "street": "st", "str": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr",
    "lane": "ln", "court": "ct", "place": "pl", "square": "sq", "terrace": "ter", "highway": "hwy",
    "apartment": "apt", "suite": "ste", "floor": "fl", "number": "no",
    "north": "n", "south": "s", "east": "e", "west": "w", "strasse": "st",
}
_NOISE = {"apt", "ste", "unit", "no", "fl"}


def _words(text: str) -> list[str]:
    # casefold() first: "ß" becomes "ss" (NFKD alone has no decomposition for it and would drop it).
    text = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode("ascii")
    # "12b" and "12 b" are one door; split letters from digits, then drop the filler words around unit numbers.
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)
    words = [_WORDS.get(word, word) for word in re.findall(r"[a-z0-9]+", text)]
    return [word for word in words if word not in _NOISE]


def address_key(*, line1: str, line2: str = "", postal_code: str, country: str) -> str:
    """The same 64-hex key for "12 Baker Street, Apt. 4" and "12 baker st #4" at the same postal code."""
    canonical = "|".join(
        [
            country.strip().upper(),
            "".join(_words(postal_code)),
            " ".join(_words(f"{line1} {line2}")),
        ]
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
