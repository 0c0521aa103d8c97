"""The explorer page as people use it: on a phone, by keyboard alone, with reduced motion, its
state in the URL, its seed fields checked, and its model card, whose every string is shown as
text. Browser tests in headless Chromium, offline (tests/test_explorer.py's setup); the
model card's own logic without one."""

import json
from dataclasses import asdict, replace

import pytest
import test_explorer
import torch
from conftest import SMALL, artifacts
from test_explorer import TEMPLATE, Page, open_page, spec_and_blob

from mnistgan.explorer import card, export
from mnistgan.gan.models import build_generator

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True}
browser = test_explorer.browser  # the same headless Chromium fixture, offline
HOSTILE = "<img src=x onerror=window.PWNED=1></script><script>window.PWNED=2</script>"


def generator(**options):
    torch.manual_seed(0)
    return build_generator(replace(SMALL.model, **options)).eval()


def shots(tmp_path):
    folder = artifacts() or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# the centre of cell i of the grid as shown (scaled by CSS), from the canvas's own geometry
CENTRE = """i => {
    const c = document.getElementById("grid"), r = c.getBoundingClientRect();
    const s = +c.dataset.scale, gap = +c.dataset.gap, cols = +c.dataset.cols;
    const x = (gap + (i % cols) * (28 + gap) + 14) * s;
    const y = (gap + Math.floor(i / cols) * (28 + gap) + 14) * s;
    return [r.left + x * r.width / c.width, r.top + y * r.height / c.height];
}"""


@pytest.mark.slow
def test_on_a_phone_the_page_fits_and_a_tap_picks_the_cell_under_it(browser, tmp_path):
    page = open_page(browser, generator(conditional=True), tmp_path, **PHONE)
    tab = page.tab
    assert tab.evaluate("innerWidth") == 390, "zoomed out: no viewport meta tag"
    assert tab.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    shown, drawn = tab.evaluate("[$('grid').getBoundingClientRect().width, $('grid').width]")
    assert shown < drawn and shown > 250  # the grid scaled down to the width, not hidden
    last = tab.locator(".row-digit").nth(9)
    assert last.is_visible()
    box = last.bounding_box()
    assert box["x"] + box["width"] <= 390
    for cell in [0, 9, 37, 62, 99]:
        x, y = tab.evaluate(CENTRE, cell)
        tab.mouse.click(x, y)
        assert tab.evaluate("explorer.state.selected") == cell
    tab.screenshot(path=shots(tmp_path) / "explorer_phone.png", full_page=True)
    assert page.tried == []


@pytest.mark.slow
def test_the_keyboard_alone_walks_another_image(browser, tmp_path):
    page = open_page(browser, generator(), tmp_path)
    tab = page.tab
    for role in ["grid", "walk", "frames", "movie"]:
        assert tab.get_attribute(f"#{role}", "role") == "img"
        assert tab.get_attribute(f"#{role}", "aria-label")
    walked = page.picture("walk")
    for _ in range(30):  # Tab through the controls to the grid
        tab.keyboard.press("Tab")
        if tab.evaluate("document.activeElement.id") == "grid":
            break
    assert tab.evaluate("document.activeElement.id") == "grid"
    for key in ["ArrowRight", "ArrowRight", "ArrowDown", "ArrowLeft", "ArrowDown"]:
        tab.keyboard.press(key)
    assert tab.evaluate("explorer.state.cursor") == 21
    assert page.picture("walk") == walked  # the cursor moves; Enter walks it
    tab.screenshot(path=shots(tmp_path) / "explorer_keyboard.png")
    tab.keyboard.press("Enter")
    assert tab.evaluate("explorer.state.selected") == 21
    assert page.picture("walk") != walked
    zd = SMALL.model.z_dim
    assert tab.evaluate("explorer.walk.z") == tab.evaluate(
        f"explorer.grid.z.slice(21 * {zd}, 22 * {zd})"
    )
    assert "row 3, column 2" in tab.get_attribute("#walk", "aria-label")


@pytest.mark.slow
def test_with_reduced_motion_the_movie_waits_for_play(browser, tmp_path):
    page = open_page(browser, generator(), tmp_path, reduced_motion="reduce")
    tab = page.tab
    # an untrained G's grey grid comes with a warning, not as a broken page
    assert "barely differ from one another" in tab.text_content("#warning")
    assert tab.is_visible("#warning")
    assert tab.text_content("#play") == "Play"
    still = {page.picture("movie")}
    for _ in range(3):
        tab.wait_for_timeout(150)
        still.add(page.picture("movie"))
    assert len(still) == 1
    tab.click("#play")
    assert tab.text_content("#play") == "Pause"
    moving = set()
    for _ in range(4):
        moving.add(page.picture("movie"))
        tab.wait_for_timeout(150)
    assert len(moving) > 1
    tab.click("#play")  # and pauses again
    frame = tab.evaluate("explorer.state.frame")
    tab.wait_for_timeout(300)
    assert tab.evaluate("explorer.state.frame") == frame


@pytest.mark.slow
def test_the_url_holds_the_state_and_a_copy_of_it_opens_the_same_pictures(browser, tmp_path):
    page = open_page(browser, generator(conditional=True), tmp_path)
    tab = page.tab
    page.set("#seed", "7")
    tab.fill("#temperature", "1.3")
    page.set(".row-digit >> nth=4", "8")
    tab.fill(".direction >> nth=1", "-1.5")
    tab.fill(".direction >> nth=3", "2")
    assert tab.text_content(".direction-value >> nth=1") == "-1.5"
    x, y = tab.evaluate(CENTRE, 45)
    tab.mouse.click(x, y)
    page.set("#seed-b", "12")
    page.set("#digit-a", "3")
    url = tab.url
    assert "seed=7" in url and "sel=45" in url and "rows=0123856789" in url
    pictures = {c: page.picture(c) for c in ["grid", "walk", "frames"]}
    again = Page(browser, tmp_path / "index.html", "#" + url.split("#", 1)[1])
    assert {c: again.picture(c) for c in pictures} == pictures
    assert again.tab.input_value("#seed") == "7" and again.tab.input_value("#seed-b") == "12"
    assert again.tab.text_content("#temperature-value") == "1.30"
    assert again.tab.url == url
    # the walk's reset puts every slider back to 0
    again.tab.click("#reset-walk")
    values = "[...document.querySelectorAll('.direction')].map(s => +s.value)"
    assert again.tab.evaluate(values) == [0] * 4 and "walk=0%2C0%2C0%2C0" in again.tab.url
    # values out of range are ignored, not drawn
    bad = Page(browser, tmp_path / "index.html", "#seed=-3&sel=100&t=99&walk=9,9,9,9&rows=12")
    assert bad.tab.evaluate("[explorer.state.seed, explorer.state.selected]") == [0, 0]
    assert bad.tab.text_content("#temperature-value") == "1.00"
    assert bad.tab.evaluate(values) == [0] * 4


@pytest.mark.slow
def test_a_bad_seed_says_so_and_keeps_the_pictures(browser, tmp_path):
    page = open_page(browser, generator(), tmp_path)
    tab = page.tab
    grid = page.picture("grid")
    for bad in ["-1", "1.5", "4294967296", "1e3"]:
        tab.fill("#seed", bad)
        assert tab.is_visible("#input-message"), bad
        text = tab.text_content("#input-message")
        assert "seed must be a whole number from 0 to 4294967295" in text, text
        assert tab.get_attribute("#seed", "aria-invalid") == "true"
        assert page.picture("grid") == grid, bad
    tab.fill("#seed-a", "-5")
    assert "seed A must be" in tab.text_content("#input-message")
    tab.fill("#seed", "4294967295")
    assert tab.get_attribute("#seed", "aria-invalid") == "false"
    assert page.picture("grid") != grid
    tab.fill("#seed-a", "5")
    assert not tab.is_visible("#input-message")
    before = (tab.input_value("#seed"), page.picture("grid"))
    tab.click("#randomize")
    seed = tab.input_value("#seed")
    assert seed.isdigit() and 0 <= int(seed) <= 4294967295
    assert (seed, page.picture("grid")) != before


def far_quality(fid: float) -> list[card.Judged]:
    return [
        card.Judged("FID", fid, False, 3.0, fid <= 3.0),
        card.Judged("precision", 0.9, True, 0.85, True),
    ]


@pytest.mark.slow
def test_the_model_card_shows_hostile_strings_as_text_and_warns(browser, tmp_path):
    g = generator()
    data = asdict(SMALL.data) | {"source": HOSTILE}
    about = card.card(asdict(g.config), data, asdict(SMALL.train), None, far_quality(40.0))
    page = open_page(browser, g, tmp_path, export.page(g, TEMPLATE, 1.0, about))
    tab = page.tab
    assert tab.evaluate("window.PWNED") is None
    assert tab.evaluate("document.querySelectorAll('img, #card script').length") == 0
    assert HOSTILE in tab.text_content("#card")
    assert tab.is_visible("#warning") and "far from its targets (FID" in tab.text_content(
        "#warning"
    )
    assert "<= 3 / NO" in tab.text_content("#card")
    tab.screenshot(path=shots(tmp_path) / "explorer_card.png", full_page=True)


# ---- the model card without a browser ----


def test_the_card_warns_only_when_a_metric_is_far_from_its_target():
    config = asdict(generator().config)
    assert card.card(config, quality=far_quality(2.9))["warning"] is None
    assert card.card(config, quality=far_quality(5.9))["warning"] is None
    assert "FID off by 2x or more" in card.card(config, quality=far_quality(6.0))["warning"]
    low = [card.Judged("recall", 0.425, True, 0.85, False)]  # half the target
    assert "recall off by 2x" in card.card(config, quality=low)["warning"]
    assert card.card(config, quality=[replace(low[0], value=0.43)])["warning"] is None
    assert card.card(config, quality=None)["rows"][-1][0] == "quality"  # says it is unmeasured


def test_no_card_string_can_end_its_script_element():
    g = generator()
    data = asdict(SMALL.data) | {"source": HOSTILE}
    html = export.page(g, TEMPLATE, 1.0, card.card(asdict(g.config), data))
    spec, _ = spec_and_blob(html)
    assert HOSTILE in json.dumps(spec["card"]["rows"], ensure_ascii=False)
    assert html.count("</script>") == TEMPLATE.count("</script>") and "<img" not in html
