"""The Data Docs site opens without a network: a static index listing every validation, and no
page that loads anything from outside the site."""

from __future__ import annotations

import re

import pytest
from test_quality import images_table

from cxralign.quality import SUITES, DataDocsSite, validate_table
from cxralign.quality.offline import without_external_assets

EXTERNAL = re.compile(r"""(?:src|href)=["']?https?://""", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataDocsSite, dict]:
    """A site holding one passing and one failing validation of real GX runs."""
    site = DataDocsSite.for_data_dir(tmp_path_factory.mktemp("data"))
    reports = {
        "batch-good": validate_table("images", images_table(), SUITES["images"](), docs=site,
                                     batch="batch-good"),
        "batch-bad": validate_table("images", images_table().drop_columns(["study_date"]),
                                    SUITES["images"](), docs=site, batch="batch-bad"),
    }
    return site, reports


def test_the_index_lists_every_validation_without_an_external_url(site):
    docs, reports = site
    index = docs.index.read_text(encoding="utf-8")
    assert not re.search(r"https?://", index)
    assert "<script" not in index  # the list is HTML, not built by JavaScript
    rows = re.findall(r"<tr>\s*<td class=\"(passed|failed)\">.*?</tr>", index, re.DOTALL)
    assert sorted(rows) == ["failed", "passed"]
    for batch, report in reports.items():
        assert batch in index
        page = report.docs_page.relative_to(docs.site_dir).as_posix()
        assert f'href="{page}"' in index and (docs.site_dir / page).is_file()


def test_result_pages_load_nothing_from_outside(site):
    docs, reports = site
    pages = list(docs.site_dir.rglob("*.html"))
    assert len(pages) >= 3  # index, two result pages (and the suite's page)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not EXTERNAL.search(text), f"{page}: {EXTERNAL.search(text)}"
    failed = reports["batch-bad"].docs_page.read_text(encoding="utf-8")
    assert "study_date" in failed  # the content GX rendered is still there


def test_markdown_summary_for_the_ui(site):
    docs, _reports = site
    summary = docs.markdown_summary()
    assert summary.count("| images |") == 2
    assert "**FAILED**" in summary and "| passed |" in summary


def test_stripping_keeps_local_assets_and_can_fail():
    page = ('<head><script src="https://cdn.example/x.js"></script>'
            '<link rel="stylesheet" href="https://cdn.example/b.css"/>'
            '<link rel="icon" href="../static/images/favicon.ico"/></head>'
            '<body><a href="https://greatexpectations.io">GX</a></body>')
    assert EXTERNAL.search(page)
    local = without_external_assets(page)
    assert not EXTERNAL.search(local)
    assert 'href="../static/images/favicon.ico"' in local and ">GX</a>" in local
