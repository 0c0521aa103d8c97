"""`dvc plots show` / `diff` pages render every plot of dvc.yaml in a real browser, offline.

Debian's Chromium, driven by Playwright, opens the page DVC wrote with the network cut off
(a dead proxy, a resolver that finds nothing, and every non-file request aborted). Charts are
the <svg>/<canvas> elements vega draws into; every image plot's <img> must have loaded, and
the train stage's per-epoch sample grids show as one image with a step slider. DVC's default
page (vega from a CDN) must fail the very same check, and a page built from a template without
the libraries must say so in words.
"""

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import CHROMIUM, CHROMIUM_OFFLINE, REPO, artifacts, run, write_params

pytestmark = pytest.mark.e2e

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".gif", ".png", ".svg"}  # dvc_render's ImageRenderer
DRAWN = """() => ({
    charts: [...document.querySelectorAll("svg.marks, canvas.marks")]
        .filter(e => e.getBoundingClientRect().width > 0).length,
    images: [...document.images].map(i => i.naturalWidth),
    text: document.body.innerText,
    sliders: [...document.querySelectorAll(".step-slider")].map(s => ({
        folder: s.dataset.folder,
        steps: s.querySelectorAll("div[id]").length,
        shown: [...s.querySelectorAll("img")].filter(i => i.getBoundingClientRect().width).length,
    })),
})"""
SAMPLES = "metrics/train/plots/images/samples"  # DVCLive's images per step: <step>.png


def expected(repo: Path, revisions: int = 1) -> tuple[int, int]:
    """(charts, images) that DVC's page should show for the plots declared in dvc.yaml."""
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    entries = list(spec.get("plots", []))
    for stage in spec.get("stages", {}).values():
        entries += stage.get("plots", [])
    charts = images = 0
    for entry in entries:
        name, config = next(iter(entry.items())) if isinstance(entry, dict) else (entry, None)
        if isinstance((config or {}).get("y"), dict):
            charts += 1  # one chart drawn from the data files listed under y
            continue
        path = repo / name  # a data file, an image, or a folder of either
        for f in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
            if f.suffix.lower() in IMAGE_SUFFIXES:
                images += revisions  # one <img> per revision
            else:
                charts += 1
    return charts, images


def render(page: Path, screenshot: Path, charts: int) -> dict:
    """Open `page` in Chromium with no network; what it drew, plus the requests it tried."""
    from playwright.sync_api import TimeoutError, sync_playwright

    tried: list[str] = []

    def only_files(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            tried.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_OFFLINE)
        try:
            tab = browser.new_page(viewport={"width": 1000, "height": 700})
            tab.route("**/*", only_files)
            tab.goto(page.as_uri(), wait_until="load")
            try:  # vega draws asynchronously after load; no vega at all: nothing to wait for
                tab.wait_for_function(
                    f"""typeof vegaEmbed === "undefined" ||
                    document.querySelectorAll("svg.marks, canvas.marks").length >= {charts}""",
                    timeout=60_000,
                )
                tab.wait_for_function("[...document.images].every(i => i.complete)")
            except TimeoutError:
                pass  # the check below reports what was (not) drawn
            tab.screenshot(path=screenshot, full_page=True)
            return tab.evaluate(DRAWN) | {"tried": tried}
        finally:
            browser.close()


def check(drawn: dict, charts: int, images: int) -> None:
    assert drawn["charts"] == charts, f"{drawn['charts']} charts drawn, expected {charts}"
    assert len(drawn["images"]) == images, f"{len(drawn['images'])} images, expected {images}"
    assert all(w > 0 for w in drawn["images"]), f"images not loaded: {drawn['images']}"


def test_plots_page_renders_offline(browser_ready, pipeline: Path, tmp_path: Path):
    repo, shots = pipeline, artifacts() or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    write_params(repo, {"train": {"epochs": 2}})  # two sample grids: a slider of two steps
    run(["dvc", "repro"], repo)
    charts, images = expected(repo)
    assert charts > 0 and images > 0, "dvc.yaml should declare both kinds of plot"

    run(["dvc", "plots", "show", "-o", str(tmp_path / "show")], repo)
    drawn = render(tmp_path / "show/index.html", shots / "plots_offline.png", charts)
    check(drawn, charts, images)
    assert drawn["tried"] == [], "the page should ask the network for nothing"
    assert drawn["sliders"] == [{"folder": SAMPLES, "steps": 2, "shown": 1}]
    assert "least sure of" in drawn["text"]  # uncertain.png's caption
    # the line charts name their axes and colour each line by its field (plots/lines.json)
    page = (tmp_path / "show/index.html").read_text()
    assert '"title": "training step"' in page and '"title": "mean sigmoid of D\'s logit"' in page
    assert '"field": "d_loss"' in page and '"field": "d_real"' in page

    # plots diff: the same page, one image per revision (HEAD and the workspace).
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "run"], repo)
    run(["dvc", "plots", "diff", "HEAD", "-o", str(tmp_path / "diff")], repo)
    drawn = render(tmp_path / "diff/index.html", shots / "plots_diff_offline.png", charts)
    check(drawn, *expected(repo, revisions=2))
    assert drawn["sliders"] == [{"folder": SAMPLES, "steps": 2, "shown": 2}]  # one per revision

    # A template without the libraries: charts fail, and the page says why.
    bare = ["--html-template", "plots/page.in.html", "-o", str(tmp_path / "bare")]
    run(["dvc", "plots", "show", *bare], repo)
    drawn = render(tmp_path / "bare/index.html", shots / "plots_no_libraries.png", charts)
    with pytest.raises(AssertionError, match="0 charts drawn"):
        check(drawn, charts, images)
    assert "cannot be drawn" in drawn["text"] and "dvc repro plots_page" in drawn["text"]

    # DVC's default page loads vega from a CDN: offline, the same check must fail.
    run(["dvc", "config", "--unset", "plots.html_template"], repo)
    run(["dvc", "plots", "show", "-o", str(tmp_path / "default")], repo)
    drawn = render(tmp_path / "default/index.html", shots / "plots_default_template.png", charts)
    assert drawn["tried"], "DVC's default page should try to fetch vega (and be refused)"
    with pytest.raises(AssertionError, match="0 charts drawn"):
        check(drawn, charts, images)
    if artifacts():
        shutil.copy(tmp_path / "show/index.html", shots / "plots_offline.html")


# Names DVC writes into its page as they are, which the browser then decodes into markup: a
# script that put the decoded text back in as HTML would run them. (A name holding raw markup,
# `<img src=x onerror=...>`, runs in DVC's own rendering of the name: docs/design.md.)
HOSTILE_FOLDERS = [
    "&lt;img src=x onerror=window.PWNED=1&gt;",
    "&lt;svg onload=window.PWNED=2&gt;",
    "&lt;/p&gt;&lt;img src=x onerror=window.PWNED=3&gt;",
]


def test_image_folder_names_reach_the_page_as_text(browser_ready, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    repo = tmp_path / "repo"
    for name in HOSTILE_FOLDERS:  # two steps each: one slider per folder
        folder = repo / "images" / name
        folder.mkdir(parents=True)
        for step in (1, 2):
            Image.new("L", (4, 4), 60 * step).save(folder / f"{step}.png")
    (repo / "dvc.yaml").write_text("plots:\n  - images\n")
    run(["dvc", "init", "--no-scm", "-q"], repo, timeout=120)
    template = ["--html-template", str(REPO / "plots/page.in.html")]
    run(["dvc", "plots", "show", *template, "-o", str(tmp_path / "show")], repo, timeout=120)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_OFFLINE)
        try:
            tab = browser.new_page()
            tab.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
            )
            tab.goto((tmp_path / "show/index.html").as_uri(), wait_until="load")
            tab.wait_for_timeout(500)  # an injected image's error event comes after its fetch
            ran = tab.evaluate("window.PWNED ?? null")
            titles = tab.evaluate(
                "[...document.querySelectorAll('.step-slider > p')].map(p => p.textContent)"
            )
            injected = tab.evaluate(
                "document.querySelectorAll('.step-slider > p *:not(output)').length"
            )
        finally:
            browser.close()
    assert ran is None, f"a folder's name ran as a script (PWNED = {ran})"
    assert injected == 0
    # each slider names its folder as the browser read it from DVC's page, letter for letter
    decoded = [n.replace("&lt;", "<").replace("&gt;", ">") for n in HOSTILE_FOLDERS]
    assert sorted(titles) == sorted(f"images/{name}: step 2" for name in decoded)
