"""The server's web page in a real headless browser (Debian's chromium, driven by Playwright):
drop an image, see the output appear next to it; pick a class of a class-conditional model.

Chromium is installed by ``make test`` (``make browser``); without it these tests are skipped,
unless ``I2I_REQUIRE_BROWSER=1`` (set by the Makefile), where a missing browser fails them.
"""

from __future__ import annotations

import base64
import os
import shutil

import numpy as np
import pytest

from i2i_runtime import Translator
from i2i_runtime.engine import OrtEngine
from i2i_runtime.imageio import encode_image
from i2i_runtime.serve import create_app

CHROMIUM = os.environ.get("I2I_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not shutil.which(CHROMIUM):
        if os.environ.get("I2I_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")  # an empty --user-data-dir
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            yield context
        finally:
            context.close()


DROP = """([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const file = new File([bytes], name, { type: "image/png" });
  const data = new DataTransfer();
  data.items.add(file);
  const zone = document.getElementById("drop");
  for (const type of ["dragenter", "dragover", "drop"]) {
    const init = { dataTransfer: data, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent(type, init));
  }
}"""

PIXELS = """(id) => {
  const img = document.getElementById(id);
  const c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  return Array.from(g.getImageData(0, 0, c.width, c.height).data);
}"""


def test_drop_an_image_and_see_the_translation(browser, models, net, tmp_path) -> None:
    img = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    data = encode_image(img / 255.0, ".png")
    want = Translator(models["rgb"]).translate(img)
    with net.running(create_app(OrtEngine(models["rgb"], "cpu"), model_name="rgb.onnx")) as url:
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']")
        assert "rgb.onnx: image model, 3 → 3 channels" in page.inner_text("#model")
        page.evaluate(DROP, ["photo.png", base64.b64encode(data).decode()])
        page.wait_for_function(
            "document.getElementById('output-img').naturalWidth > 0", timeout=30_000
        )
        assert page.inner_text("#status").startswith("done in")
        size = page.evaluate(
            "['input-img', 'output-img'].map(i => [document.getElementById(i).naturalWidth,"
            " document.getElementById(i).naturalHeight])"
        )
        assert size == [[53, 37], [53, 37]]
        shown = np.array(page.evaluate(PIXELS, "output-img"), np.uint8).reshape(37, 53, 4)
        np.testing.assert_array_equal(shown[..., :3], want)  # the server's exact output
        # side by side: the output sits right of the input
        a = page.locator("#input-img").bounding_box()
        b = page.locator("#output-img").bounding_box()
        assert b["x"] > a["x"] + a["width"] - 1 and abs(b["y"] - a["y"]) < 5
        page.screenshot(path=str(tmp_path / "page.png"))

        # a bad file shows the server's one-line reason, and the page keeps working
        page.evaluate(DROP, ["notes.png", base64.b64encode(b"not an image").decode()])
        page.wait_for_function("document.getElementById('status').className === 'error'")
        assert "error 415: cannot read the image data" in page.inner_text("#status")
        page.close()


def test_pick_a_class_and_generate(browser, models, net) -> None:
    with net.running(create_app(OrtEngine(models["sampler"], "cpu"))) as url:
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']")
        assert not page.is_visible("#drop") and page.is_visible("#generate")
        assert page.eval_on_selector_all("#class option", "os => os.map(o => o.value)") == [
            "0", "1", "2",
        ]  # fmt: skip
        page.select_option("#class", "2")
        page.fill("#seed", "5")
        page.click("#generate")
        page.wait_for_function(
            "document.getElementById('output-img').naturalWidth > 0", timeout=30_000
        )
        shown = np.array(page.evaluate(PIXELS, "output-img"), np.uint8).reshape(16, 64, 4)
        want = np.concatenate(list(Translator(models["sampler"]).sample(2, 4, seed=5)), axis=1)
        np.testing.assert_array_equal(shown[..., :3], want)
        page.close()
