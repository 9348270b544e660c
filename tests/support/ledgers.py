"""Ledgers (台账) built the way offices build them: a title row merged across the sheet, a
line of who filled it in, a header of two rows (当事人 over 姓名 | 联系电话, the other
headers merged down), dates typed in every form, and phone numbers as numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook

TITLE = "东溪镇人民调解委员会矛盾纠纷排查调处台账（2026年）"
HEADER = ("编号", "登记日期", "来源", "纠纷类型", "当事人", None, "纠纷简要情况", "风险等级",
          "所属村", "调解员", "调解方式", "调解结果", "协议金额", "化解日期", "回访情况",
          "结案日期")  # fmt: skip
UNDER = {4: "姓名", 5: "联系电话"}

# Four disputes of the example county's 东溪镇 (examples/org.yaml): one closed after its
# return visit, one still being mediated, one resolved, one withdrawn.
ROWS: tuple[tuple[Any, ...], ...] = (
    ("东溪调〔2026〕1号", date(2026, 3, 2), "来访", "邻里纠纷", "张三（申请人）、李四",
     "13800138000、0571-88776655", "两户之间排水沟堵塞，雨天积水", "低", "上林村", "王调解",
     "人民调解", "调解成功", "1,200元", "2026/3/5", "稳定", "2026年3月21日"),
    ("东溪调〔2026〕2号", "2026/3/10", "群众申请", "婚姻家庭", "赵六", 13912345678,
     "赡养费分担争议", "高", "下林村", None, "人民调解", "调解中", None, None, None, None),
    ("东溪调〔2026〕3号", "2026年4月1日", "主动排查", "劳资纠纷", "孙七", None,
     "拖欠工资三个月", "中", "上林村第一网格", "王调解", "行政调解", "调解成功", "1.2万",
     "2026.4.8", None, None),
    ("东溪调〔2026〕4号", "2026.4.20", "来电", "土地承包", "周八、吴九", None,
     "承包地界址不清", "红", "上林村", None, None, "撤回", None, None, None, "2026-04-25"),
)  # fmt: skip


def office_workbook(
    path: Path, rows: Sequence[Sequence[Any]] = ROWS, *, sheet: str = "台账"
) -> Path:
    """An .xlsx as an office keeps it: title, filler line, a two-row header, the rows."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    width = len(HEADER)
    ws.append([TITLE])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.append(
        ["填报单位：东溪镇司法所", None, None, None, None, None, None, None, "填报日期：2026年5月"]
    )
    ws.append(list(HEADER))
    ws.append([UNDER.get(c) for c in range(width)])
    for column in range(1, width + 1):
        if column - 1 in UNDER:
            continue
        ws.merge_cells(start_row=3, start_column=column, end_row=4, end_column=column)
    ws.merge_cells(start_row=3, start_column=5, end_row=3, end_column=6)
    for row in rows:
        ws.append(list(row))
    book.save(path)
    return path


def office_csv(path: Path, rows: Sequence[Sequence[Any]], *, encoding: str = "gbk") -> Path:
    """A CSV as Chinese Excel saves one (GBK): a title line, one header row, the rows."""
    header = [h for h in HEADER if h is not None]
    header[4:5] = ["当事人", "联系电话"]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([TITLE] + [""] * (len(header) - 1))
    writer.writerow(header)
    writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
    path.write_bytes(text.getvalue().encode(encoding))
    return path
