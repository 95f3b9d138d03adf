"""Emoji that carry sentiment, mapped to the Chinese word a reviewer would have written.

Emoji are evidence ("味道一般👎" is a complaint), so the normalizer rewrites the common ones
as ``[词]``: the brackets keep the word from merging with its neighbours when tokenized, and
match the ``[赞]`` text-emoticon convention that Weibo and many apps already write. Emoji not
listed here are kept as they are.
"""

from __future__ import annotations

__all__ = ["EMOJI_WORDS"]

EMOJI_WORDS: dict[str, str] = {
    # approval and praise
    "👍": "赞",
    "👏": "鼓掌",
    "👌": "好",
    "💯": "满分",
    "🙏": "感谢",
    "💪": "加油",
    "🎉": "庆祝",
    "🌹": "玫瑰",
    "⭐": "星",
    "🌟": "星",
    "✨": "闪亮",
    "🐂": "牛",
    "🐮": "牛",
    "🔥": "火爆",
    "❤": "爱心",
    "💕": "爱心",
    "💖": "爱心",
    "💗": "爱心",
    "💓": "爱心",
    "😍": "喜欢",
    "🥰": "喜欢",
    "😘": "喜欢",
    "😋": "好吃",
    "🤤": "好吃",
    # happy
    "😀": "开心",
    "😃": "开心",
    "😄": "开心",
    "😁": "开心",
    "😊": "开心",
    "🙂": "开心",
    "☺": "开心",
    "😆": "哈哈",
    "😂": "笑哭",
    "🤣": "哈哈",
    "😎": "酷",
    # disapproval and distress
    "👎": "差评",
    "💔": "心碎",
    "😡": "生气",
    "😠": "生气",
    "🤬": "生气",
    "😤": "生气",
    "😭": "大哭",
    "😢": "难过",
    "😥": "难过",
    "😞": "失望",
    "😔": "失望",
    "😟": "担心",
    "😒": "不爽",
    "🙄": "无语",
    "😑": "无语",
    "😐": "无语",
    "😓": "汗",
    "😰": "害怕",
    "😱": "惊恐",
    "😩": "累",
    "😫": "累",
    "😖": "难受",
    "😣": "难受",
    "🤮": "恶心",
    "🤢": "恶心",
    "💩": "垃圾",
    "🤔": "疑惑",
    "😷": "生病",
    "🤡": "小丑",
}
