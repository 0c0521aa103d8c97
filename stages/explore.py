"""Stage explore: models/generator.pt -> explorer/index.html, one self-contained page that
draws digits with the generator in the browser, offline (mnistgan.explorer.export). Its
temperature slider starts at sample.temperature."""

from mnistgan.core import atomic, params
from mnistgan.core.checkpoint import load_model
from mnistgan.core.errors import exit_on_user_error
from mnistgan.explorer import export
from mnistgan.gan.models import GeneratorConfig, build_generator


def main() -> None:
    p = params.load()
    g, _ = load_model("models/generator.pt", "generator", build_generator, GeneratorConfig)
    template = export.read_template("explorer/page.in.html")
    page = export.page(g, template, p.sample.temperature)
    atomic.write_bytes("explorer/index.html", page.encode("utf-8"))


if __name__ == "__main__":
    exit_on_user_error(main)
