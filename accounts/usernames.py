"""Usernames as people read them: two names that look alike are one name.

The skeleton is Unicode's (UTS #39, section 4): each character replaced by the prototype of
the characters it can be confused with, after case folding and canonical decomposition, so
"p\u0430ypal" (with a Cyrillic \u0430) and "PayPal" share one. The confusables come from Unicode's
confusables.txt as the confusable-homoglyphs package ships it (the data django-registration
checks names against). Chosen over refusing mixed-script names, which would let a name
written wholly in Cyrillic letters that look Latin through, and would refuse honest names
that mix scripts.
"""

import functools
import json
import unicodedata
from pathlib import Path

import confusable_homoglyphs


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each confusable character -> the prototype it stands for."""
    data = json.loads(
        (Path(confusable_homoglyphs.__file__).parent / "confusables.json").read_text()
    )
    prototypes = {}
    for character, homoglyphs in data.items():
        # A character that maps to one prototype lists just it; a prototype lists every
        # character confused with it. Two that only list each other: the smaller stands.
        if len(homoglyphs) == 1:
            target = homoglyphs[0]["c"]
            mutual = [h["c"] for h in data.get(target, ())] == [character]
            prototypes[character] = min(character, target) if mutual else target
    return prototypes


def skeleton(username: str) -> str:
    """The name as it looks: equal for names a reader could take for one another."""
    prototypes = _prototypes()
    text = unicodedata.normalize("NFD", username.casefold())
    mapped = "".join(prototypes.get(character, character) for character in text)
    return unicodedata.normalize("NFD", mapped.casefold())
