"""A report as the Word document an office sends: the monthly circular (月督查通报) or the
weekly assessment report (周研判报告), filled into a docxtpl template.

The shipped template is ``templates/circular.docx`` (rebuilt by ``make_circular.py``
beside it). An office may give its own: a .docx written in Word with Jinja tags
(``{{ title }}``, ``{%p if show_named %}`` … ``{%p endif %}`` around paragraphs,
``{%tr for u in units %}`` … ``{%tr endfor %}`` in table rows, see docxtpl). Every value
is a ready-made string; the template receives:

- ``kind``: ``monthly`` or ``weekly``; ``title``: 某县2026年3月矛盾纠纷排查化解督查通报;
  ``unit_name``: 某县; ``period_label``: 2026-03; ``period_words``: 2026年3月1日至3月31日;
  ``made_on``: 2026年4月1日; ``this_period``: 本月 or 本周.
- ``zero_report``: true when every figure is zero; ``summary``: the figures in prose
  (本月共排查矛盾纠纷12件，化解9件，化解率75.0%…), the zero-report sentence when
  ``zero_report``; ``details``: return visits, relapses, referrals and the three
  mediations in prose (empty for a zero report); ``rate_definition``: 化解数 ÷ 排查数.
- ``headings``: the numbered headings of the parts shown (``overview``, ``units``,
  ``ranking``, ``named``, ``listings``, ``assessment``: 一、总体情况 …).
- ``units``: one row per sub-unit, ``total``: the 合计 row; each with ``name``,
  ``screened``, ``resolved``, ``rate``, ``open``, ``overdue``, ``escalated``,
  ``supervised``, ``supervised_missed``, ``visits``, ``visits_overdue``, ``relapses``,
  ``referred``. ``categories`` and ``risks``: rows of ``label``, ``screened``,
  ``resolved``, ``open`` (and ``overdue`` for risks).
- ``show_ranking``; ``ranking_by_rate``: rows of ``rank``, ``name``, ``rate``;
  ``ranking_by_overdue``: rows of ``rank``, ``name``, ``overdue``; ``ranking_words``,
  ``overdue_words``: both rankings in a sentence.
- ``show_named``; ``named``: 西镇（超期2件，上交1件）, one per unit; ``named_words``: the
  sentence that names them (以下单位存在超期或上交纠纷，予以通报：…).
- ``show_listings``; ``listings``: one line per overdue supervised listing;
  ``listings_words``: the sentence before them.
- ``show_assessment``; ``raised``, ``lowered``, ``high_risk``: one line per dispute;
  ``assessment_lines``: the three together, each line saying which; ``assessment_words``.
- ``rate_chart``, ``trend_chart``: the two charts, as pictures 15 cm wide.

A name the template uses and the list lacks is an error, not an empty blank; a chart the
template does not show is not drawn.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from docx.opc.exceptions import PackageNotFoundError
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from lxml.etree import LxmlError

from workflows.errors import BadInput
from workflows.reports.charts import rate_chart, trend_chart
from workflows.reports.excel import (
    FIGURES,
    METHODS,
    REFERRALS,
    RISKS,
    STATUSES,
    deadline_day,
    unit_label,
)

__all__ = ["SHIPPED_TEMPLATE", "circular_context", "report_title", "write_word"]

SHIPPED_TEMPLATE = Path(__file__).parent / "templates" / "circular.docx"

_THIS = {"monthly": "本月", "weekly": "本周"}
_NUMBERS = "一二三四五六七八九十"
_CHART_WIDTH = Mm(150)
_NAMED_FOR = (("overdue", "超期"), ("escalated", "上交"))
_CHARTS = {"rate_chart": rate_chart, "trend_chart": trend_chart}


def write_word(
    content: Mapping[str, Any], out: Path | BinaryIO, *, template: Path | None = None
) -> None:
    """Fill ``template`` (the shipped circular by default) with ``content`` into ``out``."""
    path = template or SHIPPED_TEMPLATE
    try:
        document = DocxTemplate(str(path))
        document.init_docx()
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise BadInput(f"{path}: not a Word document (.docx) to fill: {_one_line(exc)}") from exc
    # Sandboxed: a template is a file an office hands in, and it may only fill in blanks.
    environment = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    context = circular_context(content)
    try:
        # Read before anything is drawn: a template with a typo fails at once.
        names = document.get_undeclared_template_variables(environment)
    except TemplateError as exc:
        raise BadInput(f"{path}: the Word template does not render: {_problem(exc)}") from exc
    unknown = sorted(names - context.keys() - _CHARTS.keys() - environment.globals.keys())
    if unknown:
        raise BadInput(
            f"{path}: the Word template has blanks no report fills: {', '.join(unknown)}"
        )
    for name, draw in _CHARTS.items():
        if name in names:
            context[name] = InlineImage(document, io.BytesIO(draw(content)), _CHART_WIDTH)
    try:
        document.render(context, jinja_env=environment)
    except (TemplateError, LxmlError) as exc:
        raise BadInput(f"{path}: the Word template does not render: {_problem(exc)}") from exc
    document.save(out if not isinstance(out, Path) else str(out))


def report_title(content: Mapping[str, Any]) -> str:
    """某县2026年3月矛盾纠纷排查化解督查通报, 东镇2026年第10周矛盾纠纷研判报告."""
    first = date.fromisoformat(content["period"]["first_day"])
    name = content["name"]
    year, week, _ = first.isocalendar()
    if content["kind"] == "monthly":
        return f"{name}{first.year}年{first.month}月矛盾纠纷排查化解督查通报"
    if content["kind"] == "weekly":
        return f"{name}{year}年第{week}周矛盾纠纷研判报告"
    if _weekly(content):  # a report of the office's own rule file: its label
        return f"{name}{year}年第{week}周{content['title']}"
    return f"{name}{first.year}年{first.month}月{content['title']}"


def _weekly(content: Mapping[str, Any]) -> bool:
    """Whether the report is of a week (its period named 2026-W10), not of a month."""
    return "-W" in content["period"]["label"]


def circular_context(content: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template reads but the charts, as strings, lists and flags."""
    totals = content["totals"]
    sections = set(content.get("sections", ()))
    this = _THIS["weekly" if _weekly(content) else "monthly"]
    zero = _all_zero(totals)
    shown = {
        "ranking": "ranking" in sections and content.get("ranking") is not None,
        "named": "named_units" in sections,
        "listings": "missed_listings" in sections,
        "assessment": "assessment" in sections and content.get("assessment") is not None,
    }
    context: dict[str, Any] = {
        "kind": content["kind"],
        "title": report_title(content),
        "unit_name": content["name"],
        "period_label": content["period"]["label"],
        "period_words": _period_words(content["period"]),
        "made_on": _day_words(datetime.fromisoformat(content["made_at"]).date()),
        "this_period": this,
        "zero_report": zero,
        "summary": _zero_words(content, this) if zero else _summary(totals, this),
        "details": "" if zero else _details(totals, content.get("referrals") or {}),
        "rate_definition": content.get("resolution_rate", {}).get("label", "化解数 ÷ 排查数"),
        "headings": _headings(shown),
        "units": [_unit_row(unit_label(row), row) for row in content.get("units", [])],
        "total": _unit_row("合计", totals),
        "categories": [_figure_row(row) for row in content.get("categories", [])],
        "risks": [_figure_row(row) for row in content.get("risks", [])],
        **{f"show_{part}": flag for part, flag in shown.items()},
    }
    context.update(_ranking(content.get("ranking") or {}, this))
    context.update(_named(content.get("named", []), this))
    context.update(_listings(content.get("listings", []), this))
    context.update(_assessment(content.get("assessment") or {}, this))
    return context


def _period_words(period: Mapping[str, Any]) -> str:
    first = date.fromisoformat(period["first_day"])
    last = date.fromisoformat(period["last_day"])
    end = f"{last.month}月{last.day}日" if last.year == first.year else _day_words(last)
    return f"{_day_words(first)}至{end}"


def _day_words(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


def _all_zero(totals: Mapping[str, Any]) -> bool:
    counted = [v for k, v in totals.items() if k in FIGURES and k != "resolution_rate"]
    return not any(counted) and not any((totals.get("methods") or {}).values())


def _zero_words(content: Mapping[str, Any], this: str) -> str:
    return (
        f"{this}{content['name']}未排查到矛盾纠纷，无在办、超期、上交和挂牌督办纠纷，特此零报告。"
    )


def _summary(totals: Mapping[str, Any], this: str) -> str:
    """本月共排查矛盾纠纷12件，化解9件，化解率75.0%，在办5件，其中超期2件；上交1件；…"""
    said = f"{this}共排查矛盾纠纷{totals['screened']}件，化解{totals['resolved']}件"
    if totals.get("resolution_rate") is not None:
        said += f"，化解率{_percent(totals['resolution_rate'])}"
    said += f"，在办{totals['open']}件"
    said += f"，其中超期{totals['overdue']}件；" if totals["overdue"] else "，无超期；"
    said += f"上交{totals['escalated']}件；" if totals["escalated"] else "无上交；"
    if totals["supervised"]:
        missed = totals.get("supervised_missed", 0)
        said += f"挂牌督办{totals['supervised']}件，" + (
            f"逾期{missed}件。" if missed else "无逾期。"
        )
    else:
        said += "无挂牌督办纠纷。"
    return said


def _details(totals: Mapping[str, Any], referrals: Mapping[str, int]) -> str:
    said = f"回访{totals['visits_done']}件"
    if totals.get("visits_overdue"):
        said += f"，回访逾期{totals['visits_overdue']}件"
    said += f"；反复{totals['relapses']}件；诉调对接{totals['referred']}件"
    places = "，".join(f"{REFERRALS.get(to, to)}{n}件" for to, n in referrals.items() if n)
    said += f"（{places}）。" if places else "。"
    methods = totals.get("methods") or {}
    if any(methods.values()):
        said += "三调联动：" + "，".join(
            f"{label}{methods.get(key, 0)}件" for key, label in METHODS.items()
        )
        said += "。"
    return said


def _headings(shown: Mapping[str, bool]) -> dict[str, str]:
    names = {
        "overview": "总体情况",
        "units": "各单位情况",
        "ranking": "排名情况",
        "named": "通报单位",
        "listings": "挂牌督办逾期情况",
        "assessment": "风险研判情况",
    }
    parts = [part for part in names if shown.get(part, True)]
    # A part not shown keeps a heading too: a custom template may show it all the same.
    parts += [part for part in names if part not in parts]
    return {part: f"{_NUMBERS[i]}、{names[part]}" for i, part in enumerate(parts)}


def _unit_row(name: str, figures: Mapping[str, Any]) -> dict[str, str]:
    row = {"name": name, "rate": _percent(figures.get("resolution_rate"))}
    for key in ("screened", "resolved", "open", "overdue", "escalated", "supervised"):
        row[key] = str(figures.get(key, 0))
    row["supervised_missed"] = str(figures.get("supervised_missed", 0))
    row["visits"] = str(figures.get("visits_done", 0))
    row["visits_overdue"] = str(figures.get("visits_overdue", 0))
    row["relapses"] = str(figures.get("relapses", 0))
    row["referred"] = str(figures.get("referred", 0))
    return row


def _figure_row(row: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in row.items() if key not in ("category", "risk")}


def _rank(row: Mapping[str, Any]) -> str:
    return "—" if row.get("rank") is None else str(row["rank"])


def _ranking(ranking: Mapping[str, Any], this: str) -> dict[str, Any]:
    by_rate = ranking.get("by_rate", [])
    by_overdue = ranking.get("by_overdue", [])
    ranked = [f"{r['rank']}.{r['name']}（{_percent(r['resolution_rate'])}）" for r in by_rate
              if r.get("rank") is not None]  # fmt: skip
    unranked = [r["name"] for r in by_rate if r.get("rank") is None]
    rate_words = "按化解率排名：" + ("；".join(ranked) or "无")
    if unranked:
        rate_words += f"；{'、'.join(unranked)}{this}未排查纠纷，不参与排名"
    overdue = [f"{_rank(r)}.{r['name']}（{r['overdue']}件）" for r in by_overdue]
    return {
        "ranking_by_rate": [
            {"rank": _rank(r), "name": r["name"], "rate": _percent(r["resolution_rate"])}
            for r in by_rate
        ],
        "ranking_by_overdue": [
            {"rank": _rank(r), "name": r["name"], "overdue": str(r["overdue"])} for r in by_overdue
        ],
        "ranking_words": rate_words + "。",
        "overdue_words": "按超期纠纷数排名：" + ("；".join(overdue) or "无") + "。",
    }


def _named(named: list[Mapping[str, Any]], this: str) -> dict[str, Any]:
    lines = []
    for unit in named:
        counts = [f"{label}{unit[key]}件" for key, label in _NAMED_FOR if unit.get(key)]
        lines.append(f"{unit['name']}（{'，'.join(counts)}）" if counts else unit["name"])
    words = (
        f"以下单位存在超期或上交纠纷，予以通报：{'、'.join(lines)}。"
        if lines
        else f"{this}无存在超期或上交纠纷的单位。"
    )
    return {"named": lines, "named_words": words}


def _listings(listings: list[Mapping[str, Any]], this: str) -> dict[str, Any]:
    lines = []
    for listing in listings:
        said = [listing["name"]]
        if listing.get("grade_label"):
            said.append(listing["grade_label"])
        said.append(f"督办期限{_day_words(deadline_day(listing['deadline']))}")
        if listing.get("missed"):
            said.append("已逾期")
        lines.append(f"{listing['title']}（{'，'.join(said)}）")
    words = (
        f"以下{len(lines)}件挂牌督办纠纷逾期未办结，予以通报："
        if lines
        else f"{this}无逾期的挂牌督办纠纷。"
    )
    return {"listings": lines, "listings_words": words}


def _assessment(assessment: Mapping[str, Any], this: str) -> dict[str, Any]:
    def changed(c: Mapping[str, Any]) -> str:
        return f"{c['title']}（{c['unit_name']}），{_risk(c['from'])}→{_risk(c['to'])}"

    raised = [changed(c) for c in assessment.get("raised", [])]
    lowered = [changed(c) for c in assessment.get("lowered", [])]
    high_risk = []
    for h in assessment.get("high_risk", []):
        said = [h["unit_name"], STATUSES.get(h["status"], h["status"])]
        if h.get("overdue"):
            said.append("已超期")
        high_risk.append(f"{h['title']}（{'，'.join(said)}）")
    overdue = sum(1 for h in assessment.get("high_risk", []) if h.get("overdue"))
    words = (
        f"{this}研判风险升级{len(raised)}件，降级{len(lowered)}件；"
        f"高风险纠纷{len(high_risk)}件" + (f"，其中超期{overdue}件。" if overdue else "。")
    )
    return {
        "raised": raised,
        "lowered": lowered,
        "high_risk": high_risk,
        "assessment_lines": [f"风险升级：{line}" for line in raised]
        + [f"风险降级：{line}" for line in lowered]
        + [f"高风险：{line}" for line in high_risk],
        "assessment_words": words,
    }


def _risk(code: str) -> str:
    return f"{RISKS.get(code, code)}风险"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _problem(error: BaseException) -> str:
    """Jinja's message, and the template's text where it stopped (docxtpl keeps it)."""
    said = _one_line(error)
    near = " ".join(" ".join(getattr(error, "docx_context", ())).split())
    return f"{said} (near “{near[:80]}”)" if near else said
