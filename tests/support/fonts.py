"""The CJK font the charts and Word files need: a test that draws skips without one, with
the reason shown, unless FENGQIAO_REQUIRE_BROWSER=1 (CI installs fonts-noto-cjk) makes it
fail."""

from __future__ import annotations

import os

import pytest


def require_cjk_font() -> None:
    from workflows.reports.charts import NoCJKFont, cjk_font

    try:
        cjk_font()
    except NoCJKFont as exc:
        if os.environ.get("FENGQIAO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"a CJK font is required here (FENGQIAO_REQUIRE_BROWSER=1): {exc}")
        pytest.skip(str(exc))
