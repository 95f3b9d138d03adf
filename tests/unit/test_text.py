import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.text.emoji_words import EMOJI_WORDS
from pipeline.text.normalize import LOST_CHARACTER, mask_pii, normalize_text

# An 18-digit resident ID with a valid checksum, and a Luhn-valid card number.
VALID_ID = "11010519491231002X"
VALID_CARD = "6222020200112233446"  # Luhn-valid, checked in the test


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_normalize_folds_full_width_whitespace_and_invisibles() -> None:
    assert normalize_text("  ＡＢＣ１２３，\u200b好\t\n评！ ") == "ABC123,好 评!"


def test_normalize_turns_escaped_line_breaks_into_clause_space() -> None:
    # Feeds dumped as JSON twice carry "\\n" as a backslash and an "n".
    assert normalize_text("菜品一般\\n服务很好\\t") == "菜品一般 服务很好"


def test_normalize_removes_control_characters() -> None:
    assert normalize_text("好\x00评\x07") == "好 评"


def test_normalize_converts_traditional_to_simplified_by_phrase() -> None:
    assert normalize_text("頭髮乾淨，服務很好") == "头发干净,服务很好"


def test_normalize_drops_html_tags_and_decodes_entities() -> None:
    raw = '<p class="review">味道&nbsp;不错&amp;&lt;推荐&gt;</p><br/>'
    assert normalize_text(raw) == "味道 不错&<推荐>"


def test_normalize_keeps_less_than_that_is_not_a_tag_and_keeps_placeholders() -> None:
    assert normalize_text("价格<100元 联系<PHONE>") == "价格<100元 联系<PHONE>"


def test_normalize_drops_glued_pinyin_annotations() -> None:
    assert normalize_text("企業(yè)與顧客") == "企业与顾客"
    assert normalize_text("包(bao1)装很好") == "包装很好"
    # Not pinyin: no tone, so it stays.
    assert normalize_text("很好(ok)") == "很好(ok)"


def test_normalize_marks_characters_lost_to_question_marks() -> None:
    assert normalize_text("味道?错") == f"味道{LOST_CHARACTER}错"
    # A real question keeps its mark.
    assert normalize_text("还会来吗?下次吧") == "还会来吗?下次吧"


def test_normalize_folds_repeated_punctuation_and_stretched_characters() -> None:
    assert normalize_text("好好好好好好") == "好好好"
    assert normalize_text("太差了!!!!!。。。") == "太差了!。"
    assert normalize_text("真的吗?!?!") == "真的吗?"
    assert normalize_text("10000元") == "10000元"


def test_normalize_writes_sentiment_emoji_as_words() -> None:
    assert normalize_text("味道一般👎") == "味道一般[差评]"
    assert normalize_text("好吃👍️👍👍👍👍") == "好吃[赞][赞][赞]"


@pytest.mark.parametrize("emoji", sorted(EMOJI_WORDS))
def test_every_mapped_emoji_is_written_as_its_word(emoji: str) -> None:
    # normalize_text only looks for emoji inside a few Unicode blocks: one outside them
    # would silently stay an emoji.
    assert normalize_text(f"好{emoji}") == f"好[{EMOJI_WORDS[emoji]}]"


def test_mask_landline_and_street_address() -> None:
    assert mask_pii("电话 010-12345678") == "电话 <PHONE>"
    assert mask_pii("送到朝阳区建国路88号3单元501室,太慢") == "送到<ADDRESS>,太慢"
    assert mask_pii("幸福小区3栋2单元501室") == "<ADDRESS>"
    assert mask_pii("路上很堵,送了3个小时") == "路上很堵,送了3个小时"


def test_mask_phone_variants() -> None:
    for raw in ("13812345678", "+86 138 1234 5678", "86-138-1234-5678", "138-1234-5678"):
        assert mask_pii(f"电话{raw}谢谢") == "电话<PHONE>谢谢", raw


def test_mask_phone_in_full_width_digits_after_normalization() -> None:
    assert mask_pii(normalize_text("电话１３８１２３４５６７８")) == "电话<PHONE>"


def test_phone_inside_longer_number_is_not_a_phone() -> None:
    assert mask_pii("订单号 2138123456789") == "订单号 2138123456789"


def test_mask_email() -> None:
    assert mask_pii("发到 zhang.san+vip@example.com.cn 吧") == "发到 <EMAIL> 吧"


def test_mask_resident_id_with_valid_checksum_or_a_birth_date() -> None:
    assert mask_pii(f"身份证{VALID_ID}") == "身份证<ID>"
    # Issue #13: a typo in the check digit is still personal data.
    wrong = VALID_ID[:-1] + "1"
    assert mask_pii(f"身份证{wrong}") == "身份证<ID>"
    # An 18-digit order number has no birth date where an ID has one: it stays for analysis.
    assert mask_pii("订单号 123456789012345678") == "订单号 123456789012345678"


def test_mask_phone_with_dots_and_chinese_numerals() -> None:
    # Issue #13: forms found stored raw after a run.
    assert mask_pii("电话139.1234.0010谢谢") == "电话<PHONE>谢谢"
    assert mask_pii("加我139一二三四0012") == "加我<PHONE>"
    assert mask_pii("打幺三八一二三四五六七八") == "打<PHONE>"
    assert mask_pii(f"身份证{VALID_ID[:6]}一九四九{VALID_ID[10:]}") == "身份证<ID>"
    # Chinese numerals that are not a number of that shape stay.
    assert mask_pii("第一次买,一二三四五六七八九十都不错") == "第一次买,一二三四五六七八九十都不错"
    assert mask_pii("价格一百二十,买了三四次") == "价格一百二十,买了三四次"


def test_mask_spelled_out_email() -> None:
    for raw in ("pii04 at example dot com", "pii04(at)example(dot)com", "pii04 [at] example [dot] cn",
                "zhang艾特qq点com", "zhang at mail.example.com.cn"):  # fmt: skip
        assert mask_pii(f"联系{raw} 谢谢") == "联系<EMAIL> 谢谢", raw
    assert mask_pii("物流 at home 很快") == "物流 at home 很快"


def test_bidi_and_format_controls_are_removed() -> None:
    # Issue #13: U+202E shows the rest of a text backwards; isolates and soft hyphens hide
    # digits from the masks.
    assert normalize_text("好\u202e评\u202c 138\u20661234\u20695678\u00ad") == "好评 13812345678"
    assert mask_pii(normalize_text("电话138\u202a1234\u202c5678")) == "电话<PHONE>"


def test_mask_bank_card_only_when_luhn_valid() -> None:
    assert luhn_ok(VALID_CARD)
    assert mask_pii(f"卡号 {VALID_CARD}") == "卡号 <CARD>"
    invalid = VALID_CARD[:-1] + str((int(VALID_CARD[-1]) + 1) % 10)
    assert mask_pii(f"卡号 {invalid}") == f"卡号 {invalid}"


@given(st.text())
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@given(st.text())
def test_mask_never_raises(text: str) -> None:
    mask_pii(normalize_text(text))


_PHONE = re.compile(r"1[3-9]\d{9}")


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="好评差 ,。abc", max_size=5),
            st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
        ),
        max_size=6,
    )
)
def test_masked_output_has_no_phone_number_left(parts: list[str]) -> None:
    masked = mask_pii(normalize_text(" ".join(parts)))
    for match in _PHONE.finditer(masked):
        start, end = match.span()
        # A remaining 11-digit run must be part of a longer number, never a phone on its own.
        assert (start > 0 and masked[start - 1].isdigit()) or (end < len(masked) and masked[end].isdigit())


_CJK_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80),
        st.sampled_from(list("頭髮乾淨與顧客業服務好?!。,(yè)&lt;>👍👎 \u200b\ufeff")),
    )
)


@given(_CJK_TEXT)
def test_normalize_is_idempotent_on_chinese_and_markup(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def _valid_id(seventeen: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return seventeen + "10X98765432"[sum(int(d) * w for d, w in zip(seventeen, weights, strict=True)) % 11]


def _luhn_complete(prefix: str) -> str:
    for check in "0123456789":
        if luhn_ok(prefix + check):
            return prefix + check
    raise AssertionError("unreachable")


_ID_RUN = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")
_CARD_RUN = re.compile(r"(?<!\d)\d{16,19}(?!\d)")
_ISSUER = re.compile(r"(?:62|60|65|81|4|5[1-5]|2[2-7]|3[457])")


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="好评差 ,。abc", max_size=5),
            st.from_regex(r"[1-6][0-9]{16}", fullmatch=True).map(_valid_id),
            st.from_regex(r"62[0-9]{14,16}", fullmatch=True).map(_luhn_complete),
        ),
        max_size=6,
    )
)
def test_masked_output_has_no_valid_id_or_card_number_left(parts: list[str]) -> None:
    masked = mask_pii(normalize_text("".join(parts)))
    for match in _ID_RUN.finditer(masked):
        assert _valid_id(match[0][:17]) != match[0].upper(), masked
    for match in _CARD_RUN.finditer(masked):
        # A run glued from other parts may pass Luhn; a card also starts like one.
        assert not (luhn_ok(match[0]) and _ISSUER.match(match[0])), masked


def test_a_luhn_valid_order_number_without_an_issuer_prefix_stays() -> None:
    # One random order number in ten passes Luhn; cards start with an issuer prefix.
    order = _luhn_complete("100000000000000")
    assert mask_pii(f"订单号 {order}") == f"订单号 {order}"
    assert mask_pii(f"卡号 {_luhn_complete('622202020011223')}") == "卡号 <CARD>"


def test_labelled_accounts_plates_and_passports_are_masked() -> None:
    assert mask_pii("加我QQ:609909965 谢谢") == "加我<QQ> 谢谢"
    assert mask_pii("微信: zhang_san88") == "<WECHAT>"
    assert mask_pii("车停在门口,车牌粤B·D12345") == "车停在门口,车牌<PLATE>"
    assert mask_pii("护照号码:E12345678") == "<PASSPORT>"
    # Without a label or the exact shape they stay.
    for text in ("我用QQ音乐听歌", "微信支付很方便", "京东快递很快", "订单号 E12345678"):
        assert mask_pii(text) == text
