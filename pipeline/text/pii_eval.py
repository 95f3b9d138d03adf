"""``make eval-pii``: a seeded corpus of personal data and of look-alikes that must survive,
and how well ``mask_pii`` (after ``normalize_text``, as at ingest) does on it.

Positives are sentences a customer could type with one piece of personal data in the forms
seen in real feedback (issue #13: dots, Chinese numerals, spelled-out e-mail, wrong check
digits...). A positive is *masked* when the value is gone from the output and the placeholder
of its type is there. Negatives are sentences with numbers analysts need (order, tracking and
model numbers, prices, dates, SKUs, barcodes); a negative is a *false mask* when the output
differs from the normalized input. Precision = masked positives / (masked positives + false
masks). The corpus is a pure function of the seed.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pipeline.text.normalize import luhn_valid, mask_pii, normalize_text

__all__ = ["PiiCase", "evaluate_pii", "generate_corpus"]

_PRE = [
    "麻烦联系我",
    "有问题打",
    "客服让我留",
    "我的",
    "加我",
    "联系方式:",
    "请回电",
    "收货人信息",
    "发货前联系",
]
_POST = ["谢谢", ",尽快处理", "。快递太慢了", ",东西坏了要退", "", " 急!", ",包装破了"]
_NEG_PRE = ["订单号", "我的订单", "运单号", "价格", "型号", "买的时候", "条码", "规格", "日期"]
_CN_DIGITS = "零一二三四五六七八九"
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_PROVINCES = ["广东省", "浙江省", "江苏省", "四川省", ""]
_CITIES = ["深圳市", "杭州市", "南京市", "成都市", "北京市", "上海市"]
_DISTRICTS = ["南山区", "西湖区", "鼓楼区", "武侯区", "朝阳区", "浦东新区"]
_ROADS = ["科技园路", "文三路", "中山北路", "人民南路", "建国路", "世纪大道", "幸福小区", "阳光花园"]
_PLATE_REGIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

#: Type → the placeholder its values must become.
PLACEHOLDERS = {
    "mobile": "<PHONE>", "landline": "<PHONE>", "email": "<EMAIL>", "id": "<ID>", "card": "<CARD>",
    "address": "<ADDRESS>", "qq": "<QQ>", "wechat": "<WECHAT>", "plate": "<PLATE>", "passport": "<PASSPORT>",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PiiCase:
    """One sentence: ``kind`` is a PII type (positive) or ``negative:<what>``."""

    kind: str
    text: str
    value: str
    """The personal data in it (positive), or the number that must survive (negative)."""

    @property
    def positive(self) -> bool:
        """Whether the case holds personal data."""
        return not self.kind.startswith("negative:")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _mobile(rng: random.Random) -> str:
    number = f"1{rng.choice('3456789')}{_digits(rng, 9)}"
    head, middle, tail = number[:3], number[3:7], number[7:]
    return rng.choice([
        number,
        f"{head} {middle} {tail}",
        f"{head}-{middle}-{tail}",
        f"{head}.{middle}.{tail}",
        f"+86 {number}",
        f"86-{number}",
        number.translate(_FULL_WIDTH),
        head + "".join(_CN_DIGITS[int(d)] for d in middle) + tail,  # some digits as numerals
        "".join(_CN_DIGITS[int(d)] for d in number),
    ])  # fmt: skip


def _landline(rng: random.Random) -> str:
    area = rng.choice(["010", "021", "0755", "0571", "028", "025"])
    local = _digits(rng, 8 if len(area) == 3 else rng.choice([7, 8]))
    local = str(rng.randint(2, 9)) + local[1:]
    return rng.choice([f"{area}-{local}", f"({area}){local}", f"{area} {local}"])


def _email(rng: random.Random) -> str:
    user = rng.choice(["zhang", "li.na", "wang_wei", "chen88", "liu.yang2020", "pii04"]) + _digits(rng, 2)
    domain, tld = rng.choice(
        [("qq", "com"), ("163", "com"), ("example", "com"), ("sina", "cn"), ("mail", "net")]
    )
    return rng.choice([
        f"{user}@{domain}.{tld}",
        f"{user} at {domain} dot {tld}",
        f"{user}(at){domain}(dot){tld}",
        f"{user}艾特{domain}点{tld}",
        f"{user}＠{domain}.{tld}",
    ])  # fmt: skip


def _resident_id(rng: random.Random) -> str:
    area = rng.choice(["110105", "310104", "440305", "330106", "510107"])
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = area + birth + _digits(rng, 3)
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    if rng.random() < 0.3:  # a typo in the check digit is still personal data
        check = rng.choice([c for c in "0123456789" if c != check])
    return body + (check.lower() if check == "X" and rng.random() < 0.5 else check)


def _card(rng: random.Random) -> str:
    body = rng.choice(["622202", "621700", "436742", "622848"]) + _digits(rng, rng.choice([9, 12]))
    number = next(body + check for check in "0123456789" if luhn_valid(body + check))
    if rng.random() < 0.4:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def _address(rng: random.Random) -> str:
    head = rng.choice(_PROVINCES) + rng.choice(_CITIES) + rng.choice(_DISTRICTS)
    road = rng.choice(_ROADS)
    number = f"{rng.randint(1, 999)}号"
    if road.endswith(("小区", "花园")):
        number = f"{rng.randint(1, 30)}栋"
    tail = rng.choice(["", f"{rng.randint(1, 6)}单元{rng.randint(101, 2505)}室", f"{rng.randint(1, 30)}层"])
    return head + road + number + tail


def _qq(rng: random.Random) -> str:
    number = str(rng.randint(1, 9)) + _digits(rng, rng.randint(4, 10))
    return rng.choice(["QQ:", "QQ ", "qq号", "QQ号码:", "扣扣"]) + number


def _wechat(rng: random.Random) -> str:
    account = (
        rng.choice(["zhang", "lily", "wx_shop", "abc", "mike"]) + rng.choice(["_", "", "-"]) + _digits(rng, 4)
    )
    if rng.random() < 0.25:
        account = f"1{rng.choice('3456789')}{_digits(rng, 9)}"
    return rng.choice(["微信:", "微信号 ", "vx ", "VX:", "wx", "加微信"]) + account


def _plate(rng: random.Random) -> str:
    region, letter = rng.choice(_PLATE_REGIONS), rng.choice(_PLATE_LETTERS)
    if rng.random() < 0.3:  # new-energy plates
        energy = f"{rng.choice('DF')}{rng.choice(_PLATE_LETTERS)}{_digits(rng, 4)}"
        return f"{region}{letter}{rng.choice(['', '·'])}{energy}"
    tail = "".join(rng.choice(_PLATE_LETTERS + "0123456789") for _ in range(5))
    return f"{region}{letter}{rng.choice(['', '·'])}{tail}"


def _passport(rng: random.Random) -> str:
    number = rng.choice("EG") + _digits(rng, 8)
    return rng.choice(["护照", "护照号", "护照号码:", "passport no. ", "Passport "]) + number


_POSITIVES = {
    "mobile": _mobile, "landline": _landline, "email": _email, "id": _resident_id, "card": _card,
    "address": _address, "qq": _qq, "wechat": _wechat, "plate": _plate, "passport": _passport,
}  # fmt: skip


def _negative(rng: random.Random) -> tuple[str, str]:
    """(what, value) of a number that must survive masking."""
    kind = rng.randrange(10)
    if kind == 0:
        return "order_number", str(rng.randint(1, 9)) + _digits(rng, rng.choice([11, 15, 18]))
    if kind == 1:
        return "tracking_number", rng.choice(["SF", "YT", "JT", "ZTO", "YD"]) + _digits(rng, 13)
    if kind == 2:
        return "tracking_number", str(rng.randint(7, 9)) + _digits(rng, rng.choice([11, 13, 14]))
    if kind == 3:
        return "price", rng.choice(["¥", "", "价格"]) + f"{rng.randint(1, 99999)}" + rng.choice(
            ["元", ".00", "块"]
        )
    if kind == 4:
        return "date", rng.choice([
            f"{rng.randint(2015, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"{rng.randint(2015, 2026)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
            f"{rng.randint(2015, 2026)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
        ])  # fmt: skip
    if kind == 5:
        return "sku", rng.choice(["SKU-", "sku", "货号", "P"]) + _digits(rng, rng.choice([6, 10, 12]))
    if kind == 6:
        return "model", rng.choice(["EPC1000HE", "X61T", "iPhone 15 Pro 256G", "RTX4090", "A2337", "2530p"])
    if kind == 7:
        return "barcode", "69" + _digits(rng, 11)
    if kind == 8:
        return "quantity", f"买了{rng.randint(2, 20)}箱,每箱{rng.randint(6, 48)}瓶"
    return (
        "time",
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}到"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
    )


def generate_corpus(seed: int = 13, per_type: int = 40, negatives: int = 400) -> list[PiiCase]:
    """``per_type`` positives of each type and ``negatives`` look-alikes, seeded."""
    rng = random.Random(seed)
    cases: list[PiiCase] = []
    for kind, make in _POSITIVES.items():
        for _ in range(per_type):
            value = make(rng)
            cases.append(PiiCase(kind, f"{rng.choice(_PRE)}{value}{rng.choice(_POST)}", value))
    for _ in range(negatives):
        what, value = _negative(rng)
        cases.append(PiiCase(f"negative:{what}", f"{rng.choice(_NEG_PRE)} {value}{rng.choice(_POST)}", value))
    return cases


def evaluate_pii(cases: list[PiiCase]) -> dict[str, Any]:
    """Recall per type and overall, false masks per negative kind, precision, and up to five
    misses and false masks to look at."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    false_masks: Counter[str] = Counter()
    negatives: Counter[str] = Counter()
    misses: list[dict[str, str]] = []
    wrong: list[dict[str, str]] = []
    for case in cases:
        normal = normalize_text(case.text)
        masked = mask_pii(normal)
        if case.positive:
            total[case.kind] += 1
            value = normalize_text(case.value)
            if value not in masked and PLACEHOLDERS[case.kind] in masked:
                found[case.kind] += 1
            elif len(misses) < 5:
                misses.append({"kind": case.kind, "text": case.text, "masked": masked})
        else:
            what = case.kind.split(":", 1)[1]
            negatives[what] += 1
            if masked != normal:
                false_masks[what] += 1
                if len(wrong) < 5:
                    wrong.append({"kind": what, "text": case.text, "masked": masked})
    positives = sum(total.values())
    masked_positives = sum(found.values())
    flagged = masked_positives + sum(false_masks.values())
    return {
        "positives": positives,
        "negatives": sum(negatives.values()),
        "recall": round(masked_positives / positives, 4) if positives else None,
        "precision": round(masked_positives / flagged, 4) if flagged else None,
        "recall_per_type": {kind: round(found[kind] / n, 4) for kind, n in sorted(total.items())},
        "false_masks_per_kind": {what: f"{false_masks[what]}/{n}" for what, n in sorted(negatives.items())},
        "misses": misses,
        "false_masks": wrong,
    }
