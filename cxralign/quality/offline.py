"""Data Docs that open without a network: our own index page and GX pages without CDN assets.

Great-expectations' site loads Bootstrap, jQuery and its table plug-ins from public CDNs, and its
index builds the list of validations in JavaScript, so offline (a hospital network, an air-gapped
cluster) the index is empty and every page unstyled. After each build the site is made
self-contained: the index is rendered here as static HTML from the validation results on disk
(status, table, batch, time, counts, a link to each result's page), and the GX result pages lose
their external ``<script>``/``<link>``/``<img>`` tags and links and get a small inline stylesheet
instead (their content is server-rendered HTML, readable without the scripts).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jinja2
from markupsafe import Markup

from cxralign.io.atomic import atomic_path

STAMP_NAME: Final = ".offline-stamp"
"""Marks the last pass: only pages written after it are rewritten (the site only grows)."""

STYLE: Final = """<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.passed { color: #126b12; } .failed { color: #a11; font-weight: bold; }
</style>"""

_EXTERNAL_TAG: Final = re.compile(
    r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>"
    r"|<(?:link|img)\b[^>]*\b(?:href|src)=[\"']https?://[^>]*>",
    re.IGNORECASE,
)
_EXTERNAL_LINK: Final = re.compile(r"\bhref=([\"'])https?://[^\"']*\1", re.IGNORECASE)

_INDEX: Final = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cxralign data quality</title>
{{ style }}</head><body>
<h1>cxralign data quality</h1>
<p>{{ rows | length }} latest validation result(s), newest first; each links to its page.</p>
<table>
<tr><th>status</th><th>table</th><th>batch</th><th>validated at (UTC)</th>
<th>expectations</th><th>failed</th><th>page</th></tr>
{% for row in rows %}<tr>
<td class="{{ 'passed' if row.success else 'failed' }}">{{ 'passed' if row.success else 'FAILED' }}</td>
<td>{{ row.suite }}</td><td>{{ row.batch }}</td><td>{{ row.time }}</td>
<td>{{ row.evaluated }}</td><td>{{ row.failed }}</td>
<td><a href="{{ row.page }}">result</a></td>
</tr>{% endfor %}
</table></body></html>
""")


@dataclass(frozen=True)
class ValidationRow:
    """One stored validation result as the index lists it; ``page`` is relative to the site."""

    suite: str
    batch: str
    time: str
    success: bool
    evaluated: int
    failed: int
    page: str


def _row(result_file: Path, results_dir: Path) -> ValidationRow:
    """The index row of one stored result; its page mirrors its path in the results store."""
    result = json.loads(result_file.read_text(encoding="utf-8"))
    statistics = result.get("statistics", {})
    run = result.get("meta", {}).get("run_id", {})
    relative = result_file.relative_to(results_dir).with_suffix(".html").as_posix()
    return ValidationRow(
        suite=result.get("suite_name", relative.split("/")[0]),
        batch=run.get("run_name") or "-",
        time=str(run.get("run_time", ""))[:19].replace("T", " "),
        success=bool(result.get("success")),
        evaluated=int(statistics.get("evaluated_expectations", 0)),
        failed=int(statistics.get("unsuccessful_expectations", 0)),
        page=f"validations/{relative}",
    )


def validation_rows(results_dir: Path, limit: int) -> list[ValidationRow]:
    """The newest ``limit`` results stored under ``results_dir``, newest first."""
    files = sorted(Path(results_dir).glob("*/*/*/*.json"),
                   key=lambda path: path.parent.name, reverse=True)  # run-time folder
    return [_row(path, Path(results_dir)) for path in files[:limit]]


def render_index(rows: Sequence[ValidationRow]) -> str:
    """The static index page: one table row per validation, no script, no external URL."""
    return _INDEX.render(rows=rows, style=Markup(STYLE))


def without_external_assets(page: str) -> str:
    """A GX page without tags that load from the network or links that leave the site, with
    the inline stylesheet in their place."""
    local = _EXTERNAL_LINK.sub("", _EXTERNAL_TAG.sub("", page))
    return local.replace("</head>", STYLE + "</head>", 1) if STYLE not in local else local


def _pages_since(site_dir: Path, stamp: Path) -> Iterable[Path]:
    since = stamp.stat().st_mtime_ns if stamp.exists() else -1
    for page in site_dir.rglob("*.html"):
        if page.stat().st_mtime_ns >= since:
            yield page


def make_self_contained(results_dir: Path, site_dir: Path, limit: int) -> Path:
    """Rewrite the site built in ``site_dir`` to open offline; returns its index page. Call it
    under the site's lock, after every build."""
    site_dir = Path(site_dir)
    stamp = site_dir / STAMP_NAME
    index = site_dir / "index.html"
    for page in _pages_since(site_dir, stamp):
        if page != index:
            text = page.read_text(encoding="utf-8")
            with atomic_path(page) as tmp:
                tmp.write_text(without_external_assets(text), encoding="utf-8")
    with atomic_path(index) as tmp:
        tmp.write_text(render_index(validation_rows(results_dir, limit)), encoding="utf-8")
    stamp.touch()
    return index


def markdown_table(rows: Sequence[ValidationRow]) -> str:
    """The index as a Markdown table (for metadata the Dagster UI shows inline, where a
    ``file://`` link to the site would not open)."""
    lines = ["| status | table | batch | validated at (UTC) | expectations | failed |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {'passed' if r.success else '**FAILED**'} | {r.suite} | {r.batch} | {r.time} "
              f"| {r.evaluated} | {r.failed} |" for r in rows]
    return "\n".join(lines)
