"""The words a ledger (台账) uses for the record's codes: what reading takes (every name of
each code) and what exporting writes (its first name), in one place, so that a ledger
given out reads back in."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["AGREEMENTS", "METHODS", "RISKS", "VISITS", "written"]

RISKS = {
    "high": ("高", "高风险", "红", "红色", "high", "h"),
    "medium": ("中", "中风险", "较高", "橙", "橙色", "medium", "m"),
    "low": ("低", "低风险", "一般", "黄", "黄色", "low", "l"),
}
METHODS = {
    "people": ("人民调解", "人民", "people"),
    "administrative": ("行政调解", "行政", "administrative"),
    "judicial": ("司法调解", "司法", "诉调对接", "judicial"),
}
AGREEMENTS = {
    "written": ("书面协议", "书面", "written"),
    "oral": ("口头协议", "口头", "oral"),
}
# a return visit's outcome: words found in the cell (稳定, 已回访稳定; 反复, 已复发)
VISITS = {
    "stable": ("稳定", "已回访", "良好", "未复发", "满意", "已回访稳定", "stable"),
    "relapsed": ("反复", "复发", "不稳定", "已复发", "relapsed"),
}


def written(words: Mapping[str, tuple[str, ...]], code: str | None) -> str:
    """What a ledger given out writes for ``code``: its first name; empty for none."""
    return words[code][0] if code is not None and code in words else ""
