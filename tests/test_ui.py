"""The Dagster UI as a person meets it: the webserver on a temporary instance and data
directory, the asset graph in headless Chromium showing every asset and check of the chain, a
materialisation of the ingestion entry point launched through the webserver's GraphQL API and
seen to succeed, and a screenshot kept under ``artifacts/ui/`` (git-ignored).

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it): Playwright drives
it through ``executable_path``, because Playwright's own browser download needs the internet.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = PROJECT_ROOT / "artifacts" / "ui"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Without the daemon (`dagster dev` runs one), queued runs would never start: the test's
# instance launches runs directly. Everything else comes from the project's dagster.yaml.
DIRECT_RUNS = {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"}
STARTUP_SECONDS = 120
RUN_SECONDS = 120


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, or a skip that says how to get it (before any server starts)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium; .ci/run does "
                    "this when it runs as root); the UI test needs a real browser")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Webserver:
    url: str
    data_dir: Path
    log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]


LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def wait_until_loaded(server: Webserver, process: subprocess.Popen) -> None:
    """Block until the code location is loaded; fail with its error or the server's log."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited ({process.returncode}):\n{server.log.read_text()[-3000:]}")
        try:
            entries = server.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            entries = []
        loaded = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
        if loaded:
            assert loaded[0]["__typename"] == "RepositoryLocation", loaded[0].get("message")
            return
        time.sleep(0.5)
    pytest.fail(f"the code location did not load in {STARTUP_SECONDS} s:\n{server.log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stop the webserver and what it started (code server, run workers): its own process
    group. The code server outlives a SIGTERM by its heartbeat timeout, hence the SIGKILL."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=3)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[Webserver]:
    """``dagster-webserver -w workspace.yaml`` on a free port, with a temporary DAGSTER_HOME
    (the project's dagster.yaml: telemetry off) and a temporary CXRALIGN_DATA_DIR."""
    home, data_dir = tmp_path / "dagster_home", tmp_path / "data"
    home.mkdir()
    data_dir.mkdir()
    settings = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings | {"run_coordinator": DIRECT_RUNS}))
    port = free_port()
    server = Webserver(url=f"http://127.0.0.1:{port}", data_dir=data_dir, log=tmp_path / "webserver.log")
    env = os.environ | {
        "DAGSTER_HOME": str(home), "CXRALIGN_DATA_DIR": str(data_dir),
        "DAGSTER_DISABLE_TELEMETRY": "1", "GX_ANALYTICS_ENABLED": "false",
        "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    }
    executable = Path(sys.executable).parent / "dagster-webserver"
    with server.log.open("w") as log:
        process = subprocess.Popen(
            [str(executable), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until_loaded(server, process)
        server.graphql("mutation { setNuxSeen }")  # the first-visit community dialog
        yield server
    finally:
        stop(process)


LAUNCH = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""
RUN_STATUS = "query Status($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def launch_ingestion_entry(server: Webserver) -> str:
    """Materialise ``incoming_studies`` (two phantom studies; local runs execute their steps
    in the run's own process)."""
    params = {
        "selector": {
            "repositoryLocationName": "cxralign", "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB", "assetSelection": [{"path": ["incoming_studies"]}],
            "assetCheckSelection": [],
        },
        "runConfigData": {
            "ops": {"incoming_studies": {"config": {"studies": 2, "seed": 0, "workers": 1}}},
        },
        "mode": "default",
    }
    launched = server.graphql(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def wait_for_run(server: Webserver, run_id: str) -> str:
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        status = server.graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    return "TIMED OUT"


def the_chain() -> tuple[list[str], dict[str, list[str]]]:
    """Every materialisable asset of the code location and the checks on each."""
    from cxralign_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = sorted(key.to_user_string() for key in graph.materializable_asset_keys)
    checks: dict[str, list[str]] = {}
    for check in graph.asset_check_keys:
        if check.asset_key.to_user_string() in assets:
            checks.setdefault(check.asset_key.to_user_string(), []).append(check.name)
    return assets, checks


ASSET_NAME = "[class*=AssetNode_assetName]"


def drawn_assets(page, expected: list[str]) -> set[str]:
    """The assets whose node the graph draws. Zoomed out, the UI shortens long names to
    ``head…tail``; such a node counts for the one expected name it abbreviates."""
    drawn = set()
    for text in page.locator(ASSET_NAME).all_inner_texts():
        head, shortened, tail = text.strip().partition("…")
        matches = [name for name in expected if name == text.strip()] or [
            name for name in expected
            if shortened and name.startswith(head) and name.endswith(tail)
        ]
        if len(matches) == 1:
            drawn.add(matches[0])
    return drawn


def open_asset_graph(page, server: Webserver, expected: list[str]) -> None:
    """The global asset lineage with every group expanded (the UI's ⌥E) and every expected
    asset drawn."""
    page.goto(f"{server.url}/asset-groups")
    # Many groups are drawn collapsed; a few may already be drawn open.
    collapsed = page.locator("[class*=CollapsedGroupNode_collapsedGroupNodeContainer]")
    collapsed.or_(page.locator(ASSET_NAME)).first.wait_for()
    if collapsed.count():
        page.keyboard.press("Alt+KeyE")
    expect(page.locator(ASSET_NAME)).to_have_count(len(expected))
    assert drawn_assets(page, expected) == set(expected)


DRAWN_GREEN = """name => [...document.querySelectorAll("[class*=AssetNode_assetNodeContainer]")]
    .some(node => node.querySelector("[class*=AssetNode_assetName]")?.textContent.trim() === name
                  && node.innerHTML.includes("green"))"""
"""Whether the graph colours asset ``name`` as materialised (the UI's green health colours)."""


def select_asset(page, asset: str) -> None:
    """Select an asset through the graph's "Jump to" list (off-screen nodes are not drawn, so
    they cannot be clicked); the sidebar then shows its checks and latest materialisation."""
    page.get_by_placeholder("Jump to…").fill(asset)
    page.get_by_text(asset, exact=True).first.click()


def test_asset_graph_shows_the_chain_and_a_launched_materialisation_succeeds(chromium, webserver, tmp_path):
    run_id = launch_ingestion_entry(webserver)  # runs while the browser checks the graph
    assets, checks = the_chain()
    assert {"incoming_studies", "dicom_images", "report_sections", "region_sentence_pairs"} <= set(assets)
    assert checks, "the chain has great-expectations checks"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 2400, "height": 1300})
        page.set_default_timeout(60_000)
        screenshot = tmp_path / "asset-graph.png"
        try:
            open_asset_graph(page, webserver, assets)
            for asset, names in sorted(checks.items()):
                select_asset(page, asset)
                for name in names:
                    page.get_by_text(name, exact=True).first.wait_for()

            status = wait_for_run(webserver, run_id)
            assert status == "SUCCESS", f"run {run_id}: {status}\n{webserver.log.read_text()[-3000:]}"
            page.goto(f"{webserver.url}/runs/{run_id}")
            page.get_by_text("Success", exact=True).first.wait_for()

            # The whole graph again, once it draws the entry point as materialised (green),
            # then the entry point selected: its sidebar names the run that materialised it.
            open_asset_graph(page, webserver, assets)
            page.wait_for_function(DRAWN_GREEN, arg="incoming_studies")
            page.screenshot(path=str(screenshot))
            select_asset(page, "incoming_studies")
            page.get_by_text(run_id[:8], exact=True).first.wait_for()
        except BaseException:
            page.screenshot(path=str(screenshot))  # what the browser saw when it failed
            raise
        finally:
            print(f"\nUI screenshot: {screenshot}")
            browser.close()

    assert list((webserver.data_dir / "incoming").iterdir()), "the run generated the phantom batch"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kept = ARTIFACTS / "asset-graph.png"
    shutil.copyfile(screenshot, kept)
    print(f"UI screenshot kept: {kept}")
