"""The reports' charts as PNG pictures: the resolution rate (化解率) of each sub-unit, and
the trend of the last periods. Their Chinese is drawn with a CJK font: the file named by
FENGQIAO_CJK_FONT, else the first CJK family installed (Debian: ``fonts-noto-cjk``).

Figures are made with ``matplotlib.figure.Figure`` and the Agg canvas, never pyplot: a
chart changes nothing global (no current figure, no rcParams), its font is passed to each
text.
"""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Mapping
from typing import Any

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontPath, FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.ticker import MaxNLocator, PercentFormatter

from workflows.reports.excel import unit_label

__all__ = [
    "FONT_VARIABLE",
    "NoCJKFont",
    "cjk_font",
    "rate_chart",
    "rate_figure",
    "trend_chart",
    "trend_figure",
]

FONT_VARIABLE = "FENGQIAO_CJK_FONT"

# Simplified Chinese first: a Pan-CJK collection draws some characters differently per region.
_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
)
# Characters every chart draws: a font without them is no CJK font.
_PROBE = "各单位化解率排查数趋势"
_DPI = 150
_BLUE, _GREEN, _ORANGE = "#2f6fb0", "#4c9a52", "#d9822b"


class NoCJKFont(RuntimeError):
    """No font on this machine draws Chinese, so no chart can be drawn."""


def cjk_font() -> FontProperties:
    """The font of the charts' text (a new object each call: FontProperties is mutable)."""
    return FontProperties(fname=_font_file(os.environ.get(FONT_VARIABLE) or None))


@functools.cache
def _font_file(named: str | None) -> FontPath:
    if named:
        return _named_font(named)
    for family in _FAMILIES:
        try:
            found = font_manager.fontManager.findfont(
                FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        if _draws_chinese(found):
            return found
    # Any other font installed that has the characters (once: the answer is cached).
    for entry in font_manager.fontManager.ttflist:
        found = FontPath(entry.fname, getattr(entry, "index", 0))
        if _draws_chinese(found):
            return found
    raise NoCJKFont(
        "no CJK font for the charts: install fonts-noto-cjk (Debian) "
        f"or set {FONT_VARIABLE} to a .ttf/.otf/.ttc file"
    )


def _named_font(path: str) -> FontPath:
    """The file ``path``; of a collection (.ttc), its Simplified Chinese face if it has one."""
    try:
        faces = FT2Font(path).num_faces
    except (OSError, RuntimeError, ValueError) as exc:
        raise NoCJKFont(f"{FONT_VARIABLE}={path} is not a font file FreeType reads: {exc}") from exc
    chosen = FontPath(path, 0)
    for index in range(faces):
        if FT2Font(path, face_index=index).family_name.endswith((" SC", " CN")):
            chosen = FontPath(path, index)
            break
    if not _draws_chinese(chosen):
        raise NoCJKFont(f"{FONT_VARIABLE}={path} has no Chinese characters: name a CJK font")
    return chosen


def _draws_chinese(found: FontPath) -> bool:
    try:
        font = font_manager.get_font(found)
    except (OSError, RuntimeError):  # a font file listed but gone, or unreadable
        return False
    return all(font.get_char_index(ord(ch)) for ch in _PROBE)


def rate_chart(content: Mapping[str, Any]) -> bytes:
    """A bar chart of each sub-unit's resolution rate, as a PNG picture."""
    return _png(rate_figure(content))


def trend_chart(content: Mapping[str, Any]) -> bytes:
    """Screened, resolved and the resolution rate of the last periods, as a PNG picture."""
    return _png(trend_figure(content))


def rate_figure(content: Mapping[str, Any]) -> Figure:
    """Each sub-unit's resolution rate as a bar, the whole unit's as a dashed line."""
    font = cjk_font()
    rows = list(content.get("units", []))
    names = [unit_label(row) for row in rows]
    rates = [row.get("resolution_rate") for row in rows]
    figure = Figure(figsize=(max(6.0, 0.7 * len(rows) + 2.0), 3.8), dpi=_DPI, layout="constrained")
    axes = figure.add_subplot()
    bars = axes.bar(range(len(rows)), [100 * (r or 0) for r in rates], color=_BLUE, width=0.6)
    axes.bar_label(
        bars, labels=[_percent(r) for r in rates], padding=2, fontproperties=font, fontsize=9
    )
    total = content.get("totals", {}).get("resolution_rate")
    if total is not None:
        axes.axhline(100 * total, color=_ORANGE, linestyle="--", linewidth=1)
        axes.annotate(
            f"合计 {_percent(total)}",
            xy=(1, 100 * total),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 3),
            textcoords="offset points",
            ha="right",
            color=_ORANGE,
            fontproperties=font,
            fontsize=9,
        )
    axes.set_xticks(
        range(len(rows)), names, fontproperties=font, rotation=30 if len(rows) > 8 else 0
    )
    axes.set_ylim(0, 110)
    axes.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    axes.set_ylabel("化解率", fontproperties=font)
    axes.set_title(f"各单位化解率 {content['period']['label']}", fontproperties=font, fontsize=13)
    _plain(axes)
    return figure


def trend_figure(content: Mapping[str, Any]) -> Figure:
    """Screened and resolved as bars, the resolution rate as a line, period by period."""
    font = cjk_font()
    points = list(content.get("trend", []))
    labels = [str(point["label"]) for point in points]
    where = range(len(points))
    figure = Figure(
        figsize=(max(6.0, 0.8 * len(points) + 2.0), 3.8), dpi=_DPI, layout="constrained"
    )
    counts = figure.add_subplot()
    width = 0.38
    screened = counts.bar(
        [x - width / 2 for x in where],
        [p["screened"] for p in points],
        width,
        color=_BLUE,
        label="排查数",
    )
    resolved = counts.bar(
        [x + width / 2 for x in where],
        [p["resolved"] for p in points],
        width,
        color=_GREEN,
        label="化解数",
    )
    counts.set_xticks(list(where), labels, fontproperties=font)
    counts.set_ylabel("件数", fontproperties=font)
    counts.yaxis.set_major_locator(MaxNLocator(integer=True))
    rates = counts.twinx()
    line = rates.plot(
        list(where),
        [_hundred(p.get("resolution_rate")) for p in points],
        color=_ORANGE,
        marker="o",
        label="化解率",
    )
    rates.set_ylim(0, 110)
    rates.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    rates.set_ylabel("化解率", fontproperties=font)
    rates.spines["top"].set_visible(False)
    highest = max([1, *(max(p["screened"], p["resolved"]) for p in points)])
    counts.set_ylim(0, highest * 1.15)
    counts.set_title(f"{content['name']}排查化解趋势", fontproperties=font, fontsize=13)
    figure.legend(
        handles=[screened, resolved, *line],
        loc="outside lower center",
        ncols=3,
        prop=_sized(font, 9),
        frameon=False,
    )
    _plain(counts)
    return figure


def _hundred(rate: float | None) -> float:
    return math.nan if rate is None else 100 * rate


def _sized(font: FontProperties, size: float) -> FontProperties:
    sized = font.copy()
    sized.set_size(size)
    return sized


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


def _plain(axes: Any) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    # No "Software" entry (it names the version): the same content gives the same bytes.
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
