import re

from hypothesis import given
from hypothesis import strategies as st

from pipeline.text import mask_pii, normalize_text

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


def test_normalize_removes_control_characters() -> None:
    assert normalize_text("好\x00评\x07") == "好 评"


def test_mask_phone_variants() -> None:
    for raw in ("13812345678", "+86 138 1234 5678", "86-138-1234-5678", "138-1234-5678"):
        assert mask_pii(f"电话{raw}谢谢") == "电话<PHONE>谢谢", raw


def test_mask_phone_in_full_width_digits_after_normalization() -> None:
    assert mask_pii(normalize_text("电话１３８１２３４５６７８")) == "电话<PHONE>"


def test_phone_inside_longer_number_is_not_a_phone() -> None:
    assert mask_pii("订单号 2138123456789") == "订单号 2138123456789"


def test_mask_email() -> None:
    assert mask_pii("发到 zhang.san+vip@example.com.cn 吧") == "发到 <EMAIL> 吧"


def test_mask_resident_id_only_with_valid_checksum() -> None:
    assert mask_pii(f"身份证{VALID_ID}") == "身份证<ID>"
    wrong = VALID_ID[:-1] + "1"
    assert mask_pii(f"身份证{wrong}") == f"身份证{wrong}"


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
