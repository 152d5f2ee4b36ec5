"""The documentation site builds with warnings as errors and its pages render in a headless browser.

The site (mkdocs.yml, pages under zoo/) is built once by tools/build_docs.sh --no-execute: the notebooks are rendered
as they are kept (without outputs), which keeps this test to seconds; `make docs` executes them. The home page and a
model card are then opened in Debian's Chromium through playwright (no browser download): each renders (a non-blank
screenshot), the card's picture is loaded and in view when scrolled to, every image loaded, and every link of every
built page that stays inside the site names a file of the site.

Runs once, under the TensorFlow backend (the suite runs once per backend; the site does not depend on it).
"""

import functools
import http.server
import importlib.util
import os
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import keras
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("KGEN_CHROMIUM", "/usr/bin/chromium")
DOCS_MODULES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "mkdocs_jupyter")

pytestmark = [
    pytest.mark.skipif(keras.config.backend() != "tensorflow",
                       reason="the documentation site is built once, in the TensorFlow run of the suite"),
]


def _require_tools():
    missing = [m for m in DOCS_MODULES if importlib.util.find_spec(m.split(".")[0]) is None]
    if missing:
        pytest.skip(f"the docs extra is not installed ({', '.join(missing)}): pip install -e '.[docs]'")


def _require_chromium():
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed: pip install -e '.[docs]'")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM}: as root, apt-get update && apt-get install -y chromium "
                    "(or set KGEN_CHROMIUM to another Chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site (a folder), built once with `tools/build_docs.sh --no-execute` (mkdocs build --strict)."""
    _require_tools()
    out = tmp_path_factory.mktemp("docs") / "site"
    env = {k: v for k, v in os.environ.items() if k != "KGEN_DOCS_NOTEBOOKS"}
    env["PYTHON"] = sys.executable
    start = time.perf_counter()
    done = subprocess.run(["bash", str(ROOT / "tools" / "build_docs.sh"), "--no-execute", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the strict docs build failed:\n{done.stdout}\n{done.stderr}"
    print(f"docs build: {time.perf_counter() - start:.1f} s")
    return out


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on a free local port, as a documentation host serves it."""
    _require_chromium()
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(server):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (name == "src" or (name == "href" and tag in ("a", "link"))):
                self.links.append((tag, value))


def _site_file(site, page_path, link):
    """The file of the site a link of the page `page_path` (relative to the site) names, or None if it leaves it."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or link.startswith(("#", "data:", "javascript:", "mailto:")):
        return None
    path = unquote(urljoin("/" + page_path, parts.path)).lstrip("/")
    target = site / path
    return target / "index.html" if link.split("#")[0].split("?")[0].endswith("/") or target.is_dir() else target


def _broken_links(site):
    """'page: <tag> link' for every link of a built page that stays in the site but names no file of it."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        rel = page.relative_to(site).as_posix()
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, link in parser.links:
            target = _site_file(site, rel, link)
            if target is not None and not target.is_file():
                broken.append(f"{rel}: <{tag}> {link}")
    return broken


def test_every_page_links_only_to_files_of_the_site(site):
    for page in ("index.html", "model_zoo.html", "pixelcnn.html", "cli.html", "contributing.html", "api/index.html",
                 "api/models.html"):
        assert (site / page).is_file(), f"the site has no {page}"
    broken = _broken_links(site)
    assert not broken, "links to files that are not in the site:\n" + "\n".join(broken)


def test_every_card_notebook_and_picture_is_in_the_site(site):
    for card in sorted((ROOT / "zoo").glob("*.md")):
        built = site / card.with_suffix(".html").name
        assert built.is_file(), f"{card.name} has no page"
        html = built.read_text(encoding="utf-8")
        for picture in ("png", "gif"):
            for name in _pictures(card, picture):
                assert f'src="{name}"' in html, f"{card.name}: {name} is not shown on its page"
                assert (site / name).is_file()
    for notebook in sorted((ROOT / "zoo" / "notebooks").glob("*.ipynb")):
        assert (site / "notebooks" / notebook.with_suffix(".html").name).is_file(), f"{notebook.name} has no page"
    cli = (site / "cli.html").read_text(encoding="utf-8")
    for command in ("kgen train", "kgen sample", "kgen compress", "kgen export"):
        assert command in cli, f"the CLI page has no help of `{command}`"
    api = (site / "api" / "models.html").read_text(encoding="utf-8")
    assert 'id="kgen.models.KgenModel"' in api
    for package, name in (("pixelcnn", "PixelCNN"), ("video_pixel_network", "VideoPixelNetwork")):  # every family
        assert f'id="kgen.models.{package}.{name}"' in api, f"the API page has no {name}"


def _pictures(card, ext):
    import re

    return re.findall(r"\]\(([^)\s/]+\." + ext + r")\)", card.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page_name, picture", [("index.html", None), ("pixelcnn.html", "pixelcnn_mnist_samples.png")])
def test_page_renders_in_chromium(site, server, browser, tmp_path, page_name, picture):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.goto(server + page_name, wait_until="load")
    assert page.title().endswith("kgen")

    shot = tmp_path / (page_name + ".png")
    page.screenshot(path=str(shot), full_page=False)
    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size == (1280, 900)
        pixels = np.asarray(im.convert("L"))
    assert pixels.std() > 5, f"the screenshot of {page_name} is blank"

    if picture is not None:
        img = page.locator(f'img[src="{picture}"]').first
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=img.element_handle())
        assert img.evaluate("img => img.naturalWidth") > 0, f"{picture} did not load"
        assert img.is_visible()
        box = img.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
        assert 0 <= box["y"] < 900 and box["y"] + box["height"] > 0, f"{picture} is not in the viewport: {box}"

    images = page.locator("img")
    for i in range(images.count()):  # scrolled to one by one, so that lazy images load too
        one = images.nth(i)
        one.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=one.element_handle())
        src = one.get_attribute("src")
        assert one.evaluate("img => img.naturalWidth") > 0, f"{page_name}: the image {src} did not load"

    for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):  # absolute URLs
        if href.startswith(server):
            target = _site_file(site, "", href[len(server):])
            assert target.is_file(), f"{page_name}: the link {href} names no file of the site"
    local_failures = [f for f in failed if server in f]
    assert not local_failures, f"{page_name}: requests to the site failed: {local_failures}"
    page.close()



def test_links_that_leave_zoo_and_executed_notebooks(tmp_path):
    """The hook on a small repository: links out of zoo/ (to README.md, a recipe, a folder), links to zoo/ and
    zoo/notebooks/, and a notebook's links reach files of the site; a notebook is rendered from its executed copy
    (KGEN_DOCS_NOTEBOOKS)."""
    _require_tools()
    import nbformat

    repo = tmp_path / "repo"
    (repo / "zoo" / "notebooks").mkdir(parents=True)
    (repo / "recipes").mkdir()
    (repo / "recipes" / "demo.toml").write_text("[model]\nname = 'pixelcnn.tiny'\n")
    (repo / "README.md").write_text("# Tiny\n\n## Using it\n\nThe [card](zoo/card.md), [all cards](zoo/), the "
                                    "[notebooks](zoo/notebooks/) and [how to add one](CONTRIBUTING.md).\n")
    (repo / "CONTRIBUTING.md").write_text("# Contributing\n\nBack [home](README.md#using-it).\n")
    (repo / "zoo" / "card.md").write_text(
        "# Card\n\nThe [recipe](../recipes/demo.toml), [all recipes](../recipes/), the [README](../README.md#using-it)"
        " and [contributing](../CONTRIBUTING.md).\n\n```text\n[not a link](../nowhere.md)\n```\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A notebook\n\nThe [card](../card.md), the "
                                              "[recipe](../../recipes/demo.toml)."),
                nbformat.v4.new_code_cell("print(6 * 7)")]
    nbformat.write(nb, repo / "zoo" / "notebooks" / "demo.ipynb")
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="EXECUTED 42\n")]
    (repo / "executed").mkdir()
    nbformat.write(nb, repo / "executed" / "demo.ipynb")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("  - tools/docs_hooks.py", f"  - {ROOT / 'tools' / 'docs_hooks.py'}")
    config = config.replace("  - mkdocstrings:", "  - mkdocstrings:\n      enabled: false")  # no API pages here
    (repo / "mkdocs.yml").write_text(config)

    site = tmp_path / "site"
    env = dict(os.environ, KGEN_DOCS_NOTEBOOKS=str(repo / "executed"), NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(repo / "mkdocs.yml"),
                           "-d", str(site)], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    card = (site / "card.html").read_text(encoding="utf-8")
    for link in ('href="_source/recipes/demo.toml"', 'href="_source/recipes/index.html"',
                 'href="index.html#using-it"', 'href="contributing.html"'):
        assert link in card
    assert (site / "_source" / "recipes" / "demo.toml").read_text() == (repo / "recipes" / "demo.toml").read_text()
    assert 'href="index.html#using-it"' in (site / "contributing.html").read_text(encoding="utf-8")
    home = (site / "index.html").read_text(encoding="utf-8")
    for link in ('href="card.html"', 'href="model_zoo.html"', 'href="notebooks/index.html"'):
        assert link in home
    assert 'href="card.html"' in (site / "model_zoo.html").read_text(encoding="utf-8")
    assert 'href="demo.html"' in (site / "notebooks" / "index.html").read_text(encoding="utf-8")
    notebook = (site / "notebooks" / "demo.html").read_text(encoding="utf-8")
    assert "EXECUTED 42" in notebook
    assert 'href="../card.html"' in notebook and 'href="../_source/recipes/demo.toml"' in notebook
    assert not _broken_links(site)
