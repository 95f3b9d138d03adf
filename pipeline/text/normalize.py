"""Text normalization and PII masking: pure functions, no state, never raise on any str.

``normalize_text`` turns raw feedback as scraped or typed into the one form every later
stage sees; ``mask_pii`` then replaces personal data with typed placeholders. Both are
idempotent, which the property tests check.
"""

from __future__ import annotations

import html
import re
import unicodedata

from opencc import OpenCC

from pipeline.text.emoji_words import EMOJI_WORDS

__all__ = ["LOST_CHARACTER", "luhn_valid", "mask_pii", "normalize_text", "to_simplified"]

# Where a character was lost to "?" by a lossy re-encoding upstream, it becomes U+FFFD: the
# tokenizer keeps it as its own token and the clause splitter does not split on it, whereas
# a "?" would end the clause and read as a question.
LOST_CHARACTER = "\ufffd"

# OpenCC ("Open Chinese Convert", Apache-2.0, the converter behind most Chinese input methods
# and Wikipedia tooling) converts phrase by phrase (乾淨→干净 but 乾隆 stays), which a
# character table cannot do; its t2s profile keeps vocabulary, so Taiwanese terms (軟體)
# become their simplified characters, not their mainland synonyms. One converter per process.
_TO_SIMPLIFIED = OpenCC("t2s")

# Zero-width characters, BOM, variation selectors (emoji styling) and lone surrogates (from
# broken JSON escapes; they cannot be encoded as UTF-8) carry no meaning but break matching.
# Bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069) and the other
# format controls (soft hyphen, Arabic letter mark, Mongolian vowel separator, interlinear
# annotation, tag characters) go too: they can reorder what an analyst sees ("\u202e" shows
# the rest of a text backwards) and hide personal data from the masks.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufe00-\ufe0f\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")
# Line breaks and tabs escaped twice on the way ("\\n" in a JSON dump of a JSON string) arrive
# as a backslash and a letter; they were white space, which separates clauses.
_ESCAPED_WHITESPACE = re.compile(r"\\[nrt]")
# The placeholders mask_pii writes, without their angle brackets.
_PLACEHOLDER_NAMES = ("PHONE", "ID", "CARD", "EMAIL", "ADDRESS", "QQ", "WECHAT", "PLATE", "PASSPORT")
# An HTML tag: a name after "<" (so "<100元" is not one). The placeholders mask_pii writes
# look like tags and survive, so normalizing masked text leaves it masked.
_HTML_TAG = re.compile(
    rf"</?(?!(?:{'|'.join(_PLACEHOLDER_NAMES)})>)[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--.*?-->",
    re.DOTALL,
)
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Pinyin glued to a character by "annotated" copies of a page: 企業(yè). One or more
# syllables in parentheses, with a tone mark or a tone digit, straight after a character.
_TONED_VOWEL = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_PINYIN_ANNOTATION = re.compile(
    rf"(?<=[{_HAN}])\((?:[a-zü{_TONED_VOWEL}]*[{_TONED_VOWEL}][a-zü{_TONED_VOWEL}]*|[a-zü]{{1,6}}[1-5])"
    rf"(?:\s(?:[a-zü{_TONED_VOWEL}]+|[a-zü]{{1,6}}[1-5]))*\)"
)
# A "?" between two characters, after a character that does not end a question, is a
# character lost in transcoding (味道?错). "好吃吗?下次" keeps its question mark.
_QUESTION_ENDING = "吗呢么嘛吧啊呀哪谁啥何几么否"
_LOST_QUESTION_MARK = re.compile(rf"(?<=[{_HAN}])(?<![{_QUESTION_ENDING}])\?(?=[{_HAN}])")
# Runs of clause punctuation fold to one mark; a mixed run of ! and ? reads as a question.
_REPEATED_PUNCTUATION = re.compile(r"([,.。，、~～…;；:：])\1+")
_TWO_PUNCTUATION = re.compile(r"[,.。，、~～…;；:：]{2}")  # cheap test before the fold above
_EXCLAMATION_RUN = re.compile(r"[!?]{2,}")
# Stretched characters (好好好好好好, 啊啊啊啊): more than three of one character fold to
# three, which keeps the emphasis but makes every stretch the same token. Digits are left
# alone (10000 is a number, not a stretch).
_STRETCH = re.compile(r"(.)\1\1\1+", re.DOTALL)
# Every mapped emoji is one code point (variation selectors are removed before), so a
# character class finds them, several times faster than an alternation.
_EMOJI = re.compile("[" + "".join(map(re.escape, EMOJI_WORDS)) + "]")
# The blocks every mapped emoji is in: a class of ranges is tested several times faster than
# the class of single code points above, and most texts have no emoji at all.
# (A unit test checks that every mapped emoji is inside these blocks.)
_EMOJI_BLOCKS = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")


def _fold_stretch(match: re.Match[str]) -> str:
    character = match[1]
    return match[0] if character.isdigit() or character.isspace() else character * 3


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese, phrase by phrase (OpenCC t2s). ASCII passes as is."""
    if text.isascii():
        return text
    return str(_TO_SIMPLIFIED.convert(text))


def normalize_text(text: str) -> str:
    """Return ``text`` in the one form the pipeline analyses.

    In order: NFKC (full-width letters, digits and punctuation → half-width), HTML tags
    dropped and entities decoded, zero-width/control characters and lone surrogates
    removed, Traditional → Simplified, pinyin annotations dropped, runs of punctuation
    folded, characters lost to "?" marked as ``LOST_CHARACTER``, stretched characters
    folded to three, sentiment emoji written as ``[词]``, white space folded and stripped.

    Total (never raises) and idempotent: ``normalize_text(normalize_text(s)) ==
    normalize_text(s)``.
    """
    text = _decode_markup(text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    if "\\" in text:
        text = _ESCAPED_WHITESPACE.sub(" ", text)
    text = to_simplified(text)
    if "(" in text:
        text = _PINYIN_ANNOTATION.sub("", text)
    if _TWO_PUNCTUATION.search(text):
        text = _REPEATED_PUNCTUATION.sub(r"\1", text)
    text = _EXCLAMATION_RUN.sub(lambda m: "?" if "?" in m[0] else "!", text)
    if "?" in text:
        text = _LOST_QUESTION_MARK.sub(LOST_CHARACTER, text)
    text = _STRETCH.sub(_fold_stretch, text)
    if _EMOJI_BLOCKS.search(text):
        text = _EMOJI.sub(lambda m: f"[{EMOJI_WORDS[m[0]]}]", text)
    return _SPACES.sub(" ", text).strip()


def _decode_markup(text: str) -> str:
    """NFKC, then HTML tags and entities, repeated until stable: decoding "&amp;lt;" or a
    full-width "＆" can reveal more markup, and one pass would not be idempotent. Every
    round that changes the text shortens it, so the loop ends."""
    # The quick check answers most texts (already NFKC) ten times faster than normalizing.
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    while "&" in text or "<" in text:
        decoded = unicodedata.normalize("NFKC", html.unescape(_HTML_TAG.sub(" ", text)))
        if decoded == text:
            break
        text = decoded
    return text


_DIGIT = re.compile(r"\d")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# An e-mail address spelled out to get past filters: "zhang at example dot com",
# "zhang(at)example(dot)cn", "zhang艾特qq点com". The spelled-out dot is required and the last
# label must be a common top-level domain, so "look at this dot com bubble" is the only kind
# of English it could take, and Chinese text never has "at" between two Latin words.
_SPELLED_AT = r"(?:\s*[(\[]\s*at\s*[)\]]\s*|\s+at\s+|\s*艾特\s*)"
_SPELLED_DOT = r"(?:\s*[(\[]\s*dot\s*[)\]]\s*|\s+dot\s+|\s*点\s*|\.)"
_TOP_LEVEL = r"(?:com|cn|net|org|edu|gov|io|co|me|info|biz|cc|top|xyz|hk|tw|jp|uk|de|us)"
_SPELLED_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+{_SPELLED_AT}[A-Za-z0-9-]+"
    rf"(?:{_SPELLED_DOT}[A-Za-z0-9-]+)*?{_SPELLED_DOT}{_TOP_LEVEL}(?!\.?[A-Za-z0-9])",
    re.IGNORECASE,
)
# Mainland mobile: optional +86 / 86, then 1[3-9] and nine digits, spaces, dashes or dots
# allowed between groups (138 1234 5678, 138-1234-5678, 139.1234.0010). Not inside a longer
# digit run.
_MOBILE = re.compile(r"(?<![\d])(?:\+?86[\s.-]?)?1[3-9]\d(?:[\s.-]?\d){8}(?![\d])")
# Landline with area code: 010-12345678, 0755 1234567, (021)12345678.
_LANDLINE = re.compile(r"(?<![\d])(?:\(0\d{2,3}\)|0\d{2,3}[\s-])\d{7,8}(?![\d])")
_ID_CARD = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")
# The birth date inside a resident ID (digits 7-14): 18xx-20xx, a month, a day. An 18-digit
# number with a date there is masked as an ID even when its check digit is wrong (a typo is
# still personal data); order and tracking numbers rarely have one and stay.
_ID_BIRTH_DATE = re.compile(r"(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_DIGIT_RUN = re.compile(r"(?<![\d])\d(?:[\s-]?\d){15,18}(?![\d])")
# Accounts and documents that are only recognisable by their label or their exact shape:
# a QQ number or WeChat id written after its label (QQ 12345678, 微信: zhang_san88, vx
# abc12345), a licence plate (京A12345, 粤B·D12345 for new-energy cars) and a passport
# number after 护照 or passport (E12345678). Without the label a QQ number is just a number.
_QQ = re.compile(r"(?i)(?<![A-Za-z])(?:qq|扣扣)(?:号码?|号|:|\s)*\s*[1-9]\d{4,11}(?!\d)")
_WECHAT = re.compile(
    r"(?i)(?:微信|威信|薇信|vx|wx|weixin|wechat)(?:号|:|\s)*\s*"
    r"(?:[a-z][-_a-z0-9]{5,19}|1[3-9]\d{9})(?![-_a-z0-9])"
)
_PLATE_REGIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(
    rf"(?<![A-Za-z0-9])[{_PLATE_REGIONS}]"
    r"[A-HJ-NP-Z][·.\s]?(?:[A-HJ-NP-Z0-9]{5}|[DF][A-HJ-NP-Z0-9]\d{4}|\d{5}[DF])(?![A-Za-z0-9])"
)
_PASSPORT = re.compile(r"(?i)(?:护照|passport)(?:号码?|号|no\.?|:|\s)*\s*[EGDSP][A-Z]?\d{7,8}(?!\d)")
# Chinese numerals written for digits inside a number ("139一二三四0012", "幺三八..."), one
# character for one digit, so a digit-only copy of the text has the same offsets.
_NUMERALS = "〇零一二三四五六七八九幺"
_CHINESE_DIGITS = str.maketrans(_NUMERALS, "001234567891")
_CHINESE_DIGIT = re.compile(f"[{_NUMERALS}]")
# Cheap gates, run on every text: four numerals in a row, or a numeral next to a digit; "at"
# or 艾特 for a spelled-out address.
_CHINESE_NUMERAL_RUN = re.compile(f"[{_NUMERALS}]{{4}}")
_NUMERAL_NEXT_TO_DIGIT = re.compile(rf"\d[{_NUMERALS}]|[{_NUMERALS}]\d")
_SPELLED_EMAIL_HINT = re.compile("at|AT|At|aT|艾特")
# Spelled case by case: an ignore-case alternation is ten times slower on every text.
_ACCOUNT_HINT = re.compile(
    "qq|QQ|Qq|qQ|扣扣|微信|威信|薇信|vx|VX|Vx|vX|wx|WX|Wx|wX|weixin|Weixin|WEIXIN|wechat|WeChat|Wechat|WECHAT"
    "|护照|passport|Passport|PASSPORT"
)
_PLATE_HINT = re.compile(f"[{_PLATE_REGIONS}][A-HJ-NP-Z]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Street addresses, where cheaply detectable: a road or a residential compound followed by a
# house number (建国路88号, 幸福小区3栋2单元501室), with the province/city/district before
# it when written. Deliberately narrow: "路上很堵" has no number and stays.
# Place names do not contain the verbs and pronouns that usually precede an address
# (送到, 住在, 我家); excluding them keeps "送到" out of the masked span.
_PLACE_CHAR = rf"(?:(?![送到在住寄发给是的了从往去来我你他她们])[{_HAN}])"
_ADDRESS = re.compile(
    rf"(?:{_PLACE_CHAR}{{1,8}}?(?:省|自治区|市|区|县|镇|乡|街道))*"
    rf"(?:{_PLACE_CHAR}|\d){{1,10}}?(?:路|街|大道|巷|弄|胡同|小区|花园|公寓|大厦|新村|家园|苑)"
    r"\d+(?:-\d+)?(?:号楼|号院|号|栋|幢|座)"
    r"(?:\d+(?:-\d+)?(?:单元|层|楼|室|号|户))*"
)


def _valid_resident_id(candidate: str) -> bool:
    total = sum(int(d) * w for d, w in zip(candidate[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == candidate[17].upper()


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` pass the Luhn check of card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _looks_like_resident_id(candidate: str) -> bool:
    return _valid_resident_id(candidate) or _ID_BIRTH_DATE.fullmatch(candidate[6:14]) is not None


# Issuer prefixes of the cards customers in China hold: UnionPay (62, 60, 65, 81), Visa (4),
# Mastercard (51-55, 22-27), Amex (34, 37), JCB (35). One random 16-19 digit order number in
# ten passes the Luhn check; most of them do not start like a card.
_CARD_PREFIX = re.compile(r"(?:62|60|65|81|4|5[1-5]|2[2-7]|3[457])")


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[\s-]", "", match[0])
    is_card = 16 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) is not None and luhn_valid(digits)
    return "<CARD>" if is_card else match[0]


def mask_pii(text: str) -> str:
    """Replace personal data with typed placeholders: ``<EMAIL>`` (also spelled out: "at",
    "dot", 艾特, 点), ``<QQ>`` and ``<WECHAT>`` (after their label), ``<PASSPORT>`` (after
    护照/passport), ``<PLATE>`` (licence plate), ``<ID>`` (resident ID: checksum valid, or a
    birth date where an ID has one), ``<CARD>`` (16-19 digits, an issuer prefix, Luhn valid),
    ``<PHONE>`` (mainland mobile, or landline with area code; Chinese numerals may stand for
    digits) and ``<ADDRESS>`` (street address with a number).

    Expects normalized text (half-width digits). Placeholders keep the fact that a number
    was there, which matters for analysis (a customer leaving a phone number is upset).
    """
    if "@" in text:
        text = _EMAIL.sub("<EMAIL>", text)
    has_digit = _DIGIT.search(text) is not None
    if _CHINESE_NUMERAL_RUN.search(text) or (has_digit and _NUMERAL_NEXT_TO_DIGIT.search(text)):
        text = _mask_chinese_numeral_numbers(text)
        has_digit = _DIGIT.search(text) is not None
    if _SPELLED_EMAIL_HINT.search(text):
        text = _SPELLED_EMAIL.sub("<EMAIL>", text)
    if _ACCOUNT_HINT.search(text):
        text = _QQ.sub("<QQ>", text)
        text = _WECHAT.sub("<WECHAT>", text)
        text = _PASSPORT.sub("<PASSPORT>", text)
    if _PLATE_HINT.search(text):
        text = _PLATE.sub("<PLATE>", text)
    if not has_digit:
        return text
    # Masking one number can free a neighbour glued to it (an ID written straight after a
    # card number), so repeat until nothing changes; each change shortens the text.
    while True:
        masked = _ID_CARD.sub(lambda m: "<ID>" if _looks_like_resident_id(m[0]) else m[0], text)
        masked = _DIGIT_RUN.sub(_mask_card, masked)
        masked = _MOBILE.sub("<PHONE>", masked)
        if masked == text:
            break
        text = masked
    text = _LANDLINE.sub("<PHONE>", text)
    return _ADDRESS.sub("<ADDRESS>", text)


def _mask_chinese_numeral_numbers(text: str) -> str:
    """Mask mobile numbers and IDs written partly or wholly in Chinese numerals. Matching runs
    on a copy with the numerals as digits; only spans with a numeral in them are replaced
    here (the digit-only ones are left to the usual path)."""
    shadow = text.translate(_CHINESE_DIGITS)
    spans: list[tuple[int, int, str]] = []
    for pattern, placeholder in ((_ID_CARD, "<ID>"), (_MOBILE, "<PHONE>")):
        for match in pattern.finditer(shadow):
            start, end = match.span()
            if not _CHINESE_DIGIT.search(text, start, end):
                continue
            if placeholder == "<ID>" and not _looks_like_resident_id(match[0]):
                continue
            if any(start < e and s < end for s, e, _ in spans):
                continue
            spans.append((start, end, placeholder))
    for start, end, placeholder in sorted(spans, reverse=True):
        text = text[:start] + placeholder + text[end:]
    return text
