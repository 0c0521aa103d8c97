"""The explorer page: what the export folds, its bytes (the default's size: test_defaults.py),
its model card, and, in headless Chromium with no network, that the page draws what PyTorch
draws, that every control changes its picture, and that it works on a phone, by keyboard
alone, with reduced motion, from a copied URL, with a bad seed typed, and with hostile strings
in its card (shown as text, never run).

The page makes its own z (a seeded Gaussian of its own); the browser tests read back the z and
digits it used and feed them to G in PyTorch (mnistgan.gan.sampling.generate, what
mnistgan.sample runs), comparing uint8 pixels read off the canvases: at most 1 apart.
"""

import base64
import hashlib
import io
import json
import re
import shutil
import zlib
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import CHROMIUM, CHROMIUM_OFFLINE, REPO, SMALL, artifacts, images, small_raw
from PIL import Image
from torch import nn

from mnistgan.core.checkpoint import save_model
from mnistgan.core.errors import UserError
from mnistgan.explorer import card, export, kernels
from mnistgan.gan import training
from mnistgan.gan.models import BATCH_NORMS, build_generator
from mnistgan.gan.sampling import generate

TEMPLATE = (REPO / "explorer/page.in.html").read_text(encoding="utf-8")
MB = 1_000_000


def spec_and_blob(html: str) -> tuple[dict, bytes]:
    spec = re.search(r'<script type="application/json" id="model">(.*?)</script>', html, re.S)
    blob = re.search(r'id="weights">(.*?)</script>', html, re.S)
    return json.loads(spec[1]), base64.b64decode(blob[1])


def test_fold_puts_batch_norm_into_the_layer_before_it():
    layer = nn.Linear(1, 2, bias=False)
    layer.weight.data = torch.tensor([[1.0], [2.0]])
    norm = nn.BatchNorm1d(2, eps=1.0).eval()
    norm.running_mean.data = torch.tensor([1.0, 0.0])
    norm.running_var.data = torch.tensor([3.0, 15.0])  # sqrt(var + eps) = 2, 4
    norm.weight.data, norm.bias.data = torch.tensor([2.0, 2.0]), torch.tensor([1.0, -1.0])
    w, b = export.fold(layer, norm)  # scales a = 2/2, 2/4; shifts c = 1 - 1 * 1, -1 - 0
    assert w.tolist() == [[1.0], [1.0]] and b.tolist() == [0.0, -1.0]

    up = nn.ConvTranspose2d(1, 2, 4, 2, 1, bias=False)  # weight (in, out, kh, kw)
    up.weight.data.fill_(1.0)
    norm = nn.BatchNorm2d(2, eps=1.0).eval()
    norm.running_var.data = torch.tensor([3.0, 15.0])
    w, b = export.fold(up, norm)
    assert w[0, 0].unique().tolist() == [0.5] and w[0, 1].unique().tolist() == [0.25]
    assert b.tolist() == [0.0, 0.0]


def small_generator() -> nn.Module:
    torch.manual_seed(0)
    return build_generator(SMALL.model).eval()


def test_template_needs_each_marker_once():
    g = small_generator()
    with pytest.raises(ValueError, match="__MODEL_WEIGHTS__ exactly once"):
        export.page(g, TEMPLATE.replace(export.WEIGHTS, ""), 1.0)


def test_stage_writes_the_same_page_twice(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(small_raw()))
    (tmp_path / "explorer").mkdir()
    shutil.copy(REPO / "explorer/page.in.html", tmp_path / "explorer")
    (tmp_path / "models").mkdir()
    save_model("models/generator.pt", "generator", small_generator())
    from stages import explore

    explore.main()
    spec, _ = spec_and_blob((tmp_path / "explorer/index.html").read_text())
    assert spec["card"]["quality"] == [] and spec["card"]["warning"] is None
    assert ["quality", "not measured: no metrics/eval/metrics.json (dvc repro evaluate)"] in spec[
        "card"
    ]["rows"]
    (tmp_path / "metrics/eval").mkdir(parents=True)
    metrics = {"fid": 40.0, "real_fid": 2.0, "precision": 0.9, "recall": 0.3, "modes_covered": 10}
    (tmp_path / "metrics/eval/metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "metrics/data.json").write_text('{"counts": {"train": 1234, "val": 16}}')
    explore.main()
    first = (tmp_path / "explorer/index.html").read_bytes()
    explore.main()
    assert (tmp_path / "explorer/index.html").read_bytes() == first
    spec, blob = spec_and_blob(first.decode())
    assert spec["temperature"] == small_raw()["sample"]["temperature"]
    assert len(blob) == spec["bytes"] and zlib.crc32(blob) == spec["crc32"]
    # the model card: judged as the evaluate stage judges (16 scored images: n/a), far off said
    about = spec["card"]
    assert about["quality"][:3] == [
        ["FID", "40", "<= 6", "n/a"],  # 3x the real floor
        ["precision", "0.9", ">= 0.85", "n/a"],
        ["recall", "0.3", ">= 0.85", "n/a"],
    ]
    assert "far from its targets (FID, recall off by 2x" in about["warning"]
    assert ["data", "mnist, the official files; 1,234 training images"] in (about["rows"])
    assert ["training", "1 epoch, batch 16, loss bce"] in about["rows"]
    assert about["commit"] == "unknown"  # tmp_path is no git checkout; no clock date either


# ---- in the browser ----

# uint8 pixels (N, 784) off a canvas that `draw` filled: cells of 28x28 at `scale`, GAP apart
CELLS = """id => {
    const c = document.getElementById(id), s = +c.dataset.scale, gap = +c.dataset.gap;
    const cols = +c.dataset.cols, n = +c.dataset.n;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, out = [];
    for (let i = 0; i < n; i++) {
        const ox = gap + (i % cols) * (28 + gap), oy = gap + Math.floor(i / cols) * (28 + gap);
        const cell = [];
        for (let r = 0; r < 28; r++)
            for (let q = 0; q < 28; q++) cell.push(d[((oy + r) * s * c.width + (ox + q) * s) * 4]);
        out.push(cell);
    }
    return out;
}"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, nn.Module]:
    """Tiny generators trained for a few steps: a conditional dcgan and an unconditional mlp.
    Their batch norms then measure their own activations (a few steps leave the running
    statistics near their init, and G in eval mode near a constant grey): folding them must
    then scale and shift every channel."""
    out, folder = {}, tmp_path_factory.mktemp("explorer_models")
    labels = torch.arange(64) % 10
    for name, arch, conditional in [("dcgan", "dcgan", True), ("mlp", "mlp", False)]:
        model = replace(SMALL.model, arch=arch, conditional=conditional)
        result = training.train(images(), model, SMALL.train, folder / f"{name}.pt", labels)
        g = result.generator
        for m in g.modules():
            if isinstance(m, BATCH_NORMS):
                m.reset_running_stats()
                m.momentum = None  # a plain average over the batches below
        with torch.no_grad():
            for seed in range(4):
                z = torch.randn(64, g.config.z_dim, generator=torch.Generator().manual_seed(seed))
                g.train()(z, labels if conditional else None)
        out[name] = g.eval()
    return out


class Page:
    """One explorer page open in headless Chromium, offline; `tried`: what it asked the
    network for (every non-file request is aborted)."""

    def __init__(self, browser, path: Path, url_tail: str = "", **options):
        self.tried: list[str] = []
        options = {"viewport": {"width": 1400, "height": 1000}} | options
        self.tab = browser.new_page(accept_downloads=True, **options)
        self.tab.route("**/*", self.only_files)
        self.tab.goto(path.as_uri() + url_tail, wait_until="load")
        self.tab.wait_for_function("window.explorer && (explorer.ready || !error.hidden)")

    def only_files(self, route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.tried.append(route.request.url)
            route.abort()

    def cells(self, canvas: str) -> torch.Tensor:
        return torch.tensor(self.tab.evaluate(CELLS, canvas), dtype=torch.int32)

    def picture(self, canvas: str) -> str:
        return self.tab.evaluate(f"document.getElementById('{canvas}').toDataURL()")

    def set(self, selector: str, value: str) -> None:
        """A control's new value, with the event a person's change fires."""
        kind = self.tab.eval_on_selector(selector, "e => e.tagName")
        if kind == "SELECT":
            self.tab.select_option(selector, value)
        else:
            self.tab.fill(selector, value)


@pytest.fixture(scope="module")
def browser(browser_ready):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_OFFLINE)
        yield b
        b.close()


def open_page(browser, g: nn.Module, folder: Path, html: str | None = None, **options) -> Page:
    path = folder / "index.html"
    path.write_text(html or export.page(g, TEMPLATE, 1.0), encoding="utf-8")
    return Page(browser, path, **options)


def assert_matches_pytorch(page: Page, g: nn.Module, canvas: str, z, y) -> None:
    zd = g.config.z_dim
    expected = generate(g, torch.tensor(z).view(-1, zd), y).view(-1, 784).int()
    drawn = page.cells(canvas)
    assert drawn.shape == expected.shape
    assert (drawn - expected).abs().max() <= 1, f"{canvas}: the page draws other pixels"
    assert drawn.float().std() > 0  # not a blank canvas


@pytest.mark.slow
def test_conditional_page_draws_what_pytorch_draws(browser, trained, tmp_path):
    g = trained["dcgan"]
    page = open_page(browser, g, tmp_path)
    assert page.tab.is_visible("#digit") and page.tab.is_visible(".row-digit")
    grids = set()
    for seed in ["0", "1", "2"]:
        for digit in ["3", "7"]:
            page.set("#seed", seed)
            page.set("#digit", digit)
            grid = page.tab.evaluate("explorer.grid")
            assert grid["digits"] == [int(digit)] * 100
            assert_matches_pytorch(page, g, "grid", grid["z"], torch.tensor(grid["digits"]))
            grids.add(page.picture("grid"))
    assert len(grids) == 6
    # the page's plain JavaScript layers, which run where WebAssembly SIMD does not
    assert page.tab.evaluate("explorer.simd") is True
    assert page.tab.text_content("#engine") == "Drawn by WebAssembly SIMD kernels."
    page.tab.evaluate("explorer.simd = false")
    page.set("#seed", "3")
    assert "plain JavaScript" in page.tab.text_content("#engine")
    grid = page.tab.evaluate("explorer.grid")
    assert_matches_pytorch(page, g, "grid", grid["z"], torch.tensor(grid["digits"]))
    page.tab.evaluate("explorer.simd = true")
    walk = page.tab.evaluate("explorer.walk")
    assert_matches_pytorch(page, g, "walk", walk["z"], torch.tensor(walk["digits"]))
    page.set("#digit-b", "5")  # frames blend digit 0 into 5: class weights, not labels
    frames = page.tab.evaluate("explorer.frames")
    y = torch.tensor(frames["y"]).view(-1, 10)
    assert y[0, 0] == 1 and y[-1, 5] == 1 and y[4, 0] == pytest.approx(5 / 9)
    assert_matches_pytorch(page, g, "frames", frames["z"], y)
    assert page.tried == []
    shots = artifacts() or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.tab.screenshot(path=shots / "explorer.png", full_page=True)


@pytest.mark.slow
def test_unconditional_mlp_page_draws_what_pytorch_draws(browser, trained, tmp_path):
    g = trained["mlp"]
    page = open_page(browser, g, tmp_path)
    assert not page.tab.is_visible("#digit") and not page.tab.is_visible(".row-digit")
    assert not page.tab.is_visible("#digit-a")
    for seed in ["0", "5", "9"]:
        page.set("#seed", seed)
        assert_matches_pytorch(page, g, "grid", page.tab.evaluate("explorer.grid.z"), None)


@pytest.mark.slow
def test_every_control_changes_the_picture_it_should(browser, trained, tmp_path):
    page = open_page(browser, trained["dcgan"], tmp_path)
    canvases = ["grid", "walk", "frames"]

    def changes(action) -> set[str]:
        before = {c: page.picture(c) for c in canvases}
        action()
        return {c for c in canvases if page.picture(c) != before[c]}

    # the grid's controls redraw it and the image walked (one of its cells)
    assert changes(lambda: page.set("#seed", "4")) == {"grid", "walk"}
    assert changes(lambda: page.set("#digit", "8")) == {"grid", "walk"}
    before = page.cells("grid")
    assert changes(lambda: page.set(".row-digit >> nth=9", "2")) == {"grid"}  # row 9 only
    after = page.cells("grid")
    assert torch.equal(before[:90], after[:90]) and not torch.equal(before[90:], after[90:])
    assert page.tab.evaluate("explorer.grid.digits").count(2) == 10
    temperature = lambda: page.tab.fill("#temperature", "1.7")  # noqa: E731
    assert changes(temperature) == {"grid", "walk", "frames"}
    assert page.tab.text_content("#temperature-value") == "1.70"
    assert page.tab.evaluate("explorer.grid.z[0] / explorer.gaussians(4, 1)[0]") == pytest.approx(
        1.7, rel=1e-6
    )
    # walking: each direction moves the selected image only; a click selects another
    for k in range(4):
        slider = f".direction >> nth={k}"
        assert changes(lambda slider=slider: page.tab.fill(slider, "2.5")) == {"walk"}, k
    click = lambda: page.tab.click("#grid", position={"x": 250, "y": 250})  # noqa: E731
    assert changes(click) == {"grid", "walk"}  # the outline moves to the cell clicked
    assert page.tab.evaluate("explorer.state.selected") == 4 * 10 + 4
    # interpolation: both seeds and both digits
    for control, value in [("#seed-a", "11"), ("#seed-b", "12"), ("#digit-a", "6")]:
        assert changes(lambda c=control, v=value: page.set(c, v)) == {"frames"}, control
    assert changes(lambda: page.set("#digit-b", "9")) == {"frames"}
    movie = set()
    for _ in range(4):
        movie.add(page.picture("movie"))
        page.tab.wait_for_timeout(150)
    assert len(movie) > 1, "the interpolation should play"
    # saving: one PNG of the grid, the walked image and the frames
    with page.tab.expect_download() as download:
        page.tab.click("#save")
    png = Path(download.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    sizes = page.tab.evaluate("['grid','walk','frames'].map(i => [$(i).width, $(i).height])")
    caption = 20  # the caption line above them
    assert width == max(w for w, _ in sizes) and height == caption + sum(h + 8 for _, h in sizes)
    saved = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    grid = saved[caption : caption + sizes[0][1], : sizes[0][0]]
    assert not ((grid[..., 0] - grid[..., 2]) > 100).any(), "the selection box is saved"
    assert (saved[:caption] < 128).any(), "no caption"
    assert page.tried == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage,says",
    [
        (lambda b: b[:100] + ("A" if b[100] != "A" else "B") + b[101:], "corrupted"),
        (lambda b: b[: len(b) // 2], "corrupted"),
        (lambda b: b[:50] + "!*" + b[52:], "not base64"),
        (lambda b: "", "holds no generator weights"),
    ],
    ids=["one character", "cut short", "not base64", "missing"],
)
def test_broken_weights_say_so_on_the_page(browser, trained, tmp_path, damage, says):
    html = export.page(trained["mlp"], TEMPLATE, 1.0)
    blob = re.search(r'id="weights">(.*?)</script>', html, re.S)
    html = html[: blob.start(1)] + damage(blob[1]) + html[blob.end(1) :]
    page = open_page(browser, trained["mlp"], tmp_path, html)
    assert page.tab.is_visible("#error") and not page.tab.is_visible("#grid")
    text = page.tab.text_content("#error")
    assert says in text and "dvc repro explore" in text
    if artifacts():
        page.tab.screenshot(path=artifacts() / f"explorer_broken_{says.split()[0]}.png")


def test_leb128_as_webassembly_writes_counts():
    assert kernels.leb(0) == b"\x00" and kernels.leb(127) == b"\x7f"
    assert kernels.leb(128) == b"\x80\x01" and kernels.leb(624485) == b"\xe5\x8e\x26"
    assert kernels.sleb(16) == b"\x10" and kernels.sleb(64) == b"\xc0\x00"
    assert kernels.sleb(-1) == b"\x7f" and kernels.sleb(-123456) == b"\xc0\xbb\x78"
    assert kernels.kernels()[:8] == b"\x00asm\x01\x00\x00\x00"


def test_the_kernels_written_by_name_assemble_the_same_module():
    """The module the page has carried since its kernels were written as raw opcode bytes:
    567 bytes, this SHA-256 (a change to the assembler that changes them fails here)."""
    module = kernels.kernels()
    assert len(module) == 567
    assert hashlib.sha256(module).hexdigest() == (
        "5486a3201a27bf12efe6753f4f30320ef987528939c9376ab7f5d96dbc1d7a34"
    )
    assert base64.b64encode(module).decode() in export.page(small_generator(), TEMPLATE, 1.0)
    assert kernels.encode(("f32x4.mul",)) == b"\xfd\xe6\x01"  # the spec's 0xFD 230
    text = kernels.listing()
    assert text.count("(func ") == 3 and text.count("f32x4.mul") == 4 + 8 + 1
    assert "v128.load offset=0 align=1" in text and '(export "axpy4x2")' in text


def test_no_string_of_the_model_can_end_its_script_element():
    g = small_generator()
    arch = '</script><img src=x onerror="window.PWNED=1"><!--'
    g.config = replace(g.config, arch=arch)  # past the checks a model file's config gets
    html = export.page(g, TEMPLATE, 1.0)
    spec, _ = spec_and_blob(html)
    assert spec["arch"] == arch  # the page reads the very string back, as text
    assert html.count("</script>") == TEMPLATE.count("</script>") and "<img" not in html


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file: restore it with `git checkout -- explorer/page.in.html`"),
        ("folder", "a folder, not a regular file: cannot read the explorer template from it"),
        (TEMPLATE.replace(export.SPEC, ""), "holds __MODEL_SPEC__ 0 times, expected once"),
        (TEMPLATE + export.KERNELS, "holds __KERNELS__ 2 times, expected once"),
        (TEMPLATE.encode("utf-16"), "not UTF-8 text (byte 0: invalid start byte)"),
        (b"\xff" + TEMPLATE.encode(), "not UTF-8 text (byte 0: invalid start byte)"),
    ],
    ids=["missing", "a folder", "no marker", "a marker twice", "utf-16", "a stray byte"],
)
def test_the_stage_says_what_is_wrong_with_its_template_in_one_line(
    tmp_path, monkeypatch, content, says
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(small_raw()))
    (tmp_path / "models").mkdir()
    save_model("models/generator.pt", "generator", small_generator())
    path = tmp_path / "explorer/page.in.html"
    path.parent.mkdir()
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    from stages import explore

    with pytest.raises(UserError) as e:
        explore.main()
    message = str(e.value)
    assert message.startswith(f"explorer/page.in.html: {says}") and "\n" not in message
    assert not (tmp_path / "explorer/index.html").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("t", "shown"), [(3.0, "3.00"), (1.098, "1.098"), (0.05, "0.05"), (1.1, "1.10")]
)
def test_the_page_draws_and_shows_the_models_own_temperature(browser, tmp_path, t, shown):
    """Outside the slider's 0.1-2 or off its 0.05 steps, sample.temperature is neither clamped
    (3 drawn as 2) nor snapped (1.098 as 1.10): the range grows to hold it, and z is scaled
    by it exactly."""
    g = small_generator()
    page = open_page(browser, g, tmp_path, export.page(g, TEMPLATE, t))
    assert page.tab.text_content("#temperature-value") == shown
    low, high = page.tab.eval_on_selector("#temperature", "e => [Number(e.min), Number(e.max)]")
    assert low == min(0.1, t) and high == max(2.0, t)
    ratio = page.tab.evaluate("explorer.grid.z[0] / explorer.gaussians(0, 1)[0]")  # seed 0
    assert ratio == pytest.approx(t, rel=1e-6)


# ---- the page as people use it: a phone, the keyboard alone, reduced motion, its URL, its
# seed fields, its model card (every string shown as text) ----

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True}
HOSTILE = "<img src=x onerror=window.PWNED=1></script><script>window.PWNED=2</script>"


def generator(**options) -> nn.Module:
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
