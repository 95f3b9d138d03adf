"""Text normalization and PII masking: pure functions, no state, never raise on any str.

First version (issue #2); issue #3 adds traditional→simplified, scraping artefacts, emoji.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["mask_pii", "normalize_text"]

# Zero-width and BOM characters carry no meaning but break term matching.
_INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Return ``text`` in NFKC (full-width → half-width), without control or zero-width
    characters, with runs of white space folded to one space and the ends stripped.

    Idempotent: ``normalize_text(normalize_text(s)) == normalize_text(s)``.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Mainland mobile: optional +86 / 86, then 1[3-9] and nine digits, spaces or dashes allowed
# between groups (138 1234 5678, 138-1234-5678). Not inside a longer digit run.
_PHONE = re.compile(r"(?<![\d])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?![\d])")
_ID_CARD = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")
_DIGIT_RUN = re.compile(r"(?<![\d])\d(?:[\s-]?\d){15,18}(?![\d])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _valid_resident_id(candidate: str) -> bool:
    total = sum(int(d) * w for d, w in zip(candidate[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == candidate[17].upper()


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_pii(text: str) -> str:
    """Replace personal data with typed placeholders: ``<EMAIL>``, ``<ID>`` (resident ID,
    checksum verified), ``<CARD>`` (16-19 digits, Luhn valid), ``<PHONE>`` (mainland mobile).

    Expects normalized text (half-width digits). Placeholders keep the fact that a number
    was there, which matters for analysis (a customer leaving a phone number is upset).
    """
    text = _EMAIL.sub("<EMAIL>", text)
    text = _ID_CARD.sub(lambda m: "<ID>" if _valid_resident_id(m[0]) else m[0], text)

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"[\s-]", "", m[0])
        return "<CARD>" if 16 <= len(digits) <= 19 and _luhn_valid(digits) else m[0]

    text = _DIGIT_RUN.sub(card, text)
    return _PHONE.sub("<PHONE>", text)
