"""The course as a reader meets it: every chapter opened in JupyterLab in a real (headless) Chromium, run,
its interactive control moved, and the figure that control drives seen to change; then the HTML
edition's index and one chapter opened and screenshotted.

Driver: Playwright for Python. It is one pip package that drives Debian's own ``chromium`` through the
DevTools protocol (``executable_path``), so there is no ``chromedriver`` whose version must match the
browser's, and its locators wait for elements by themselves, which keeps a test of an asynchronous UI
(kernel start, widget rendering, redraws) free of hand-written sleeps. Selenium would need the
``chromium-driver`` package and explicit waits for the same result. Playwright's own browser download is
not used (it does not work offline).

Every test here skips, with the reason, when playwright or Chromium is missing
(``pip install -r requirements-browser.txt`` and ``apt-get install chromium``; ``.ci/run`` does both).
The screenshots go to a folder under pytest's temporary directory; its path is printed at the end of the
run. The server and every kernel it started are stopped in a finalizer, also when a test fails.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest

from jupyterlab_harness import (CHROMIUM_ARGS, NOTEBOOK, LabServer, find_chromium, page_errors, prompts,
                                wait_for)
from lib.course.edition import build_edition, chapter_notebooks

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -r requirements-browser.txt)")
CHROMIUM = find_chromium()
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)", allow_module_level=True)

PROBE = "widget_probe.ipynb"
CHAPTERS = [path.name for path in chapter_notebooks()]
RUN_TIMEOUT = 240.0      # seconds for Run All on one chapter on a busy 2-core machine
REDRAW_TIMEOUT = 60.0    # seconds for one control change to redraw (some controls retrain a small network)
SETTLE = 3.0             # seconds of an idle kernel and an unchanged figure before a control counts as inert
UI_TIMEOUT_MS = 120_000  # JupyterLab's first load compiles a few MB of JavaScript


def probe_notebook():
    """The smallest notebook with the pattern every chapter uses: a slider redrawing a matplotlib figure
    inside an ``ipywidgets.Output``."""
    source = '''\
import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

slider = widgets.IntSlider(value=2, min=1, max=6, description="frequency")
output = widgets.Output()

def redraw(change=None):
    with output:
        output.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(4, 2.5), dpi=80)
        ax.plot([(i * slider.value) % 7 for i in range(30)])
        plt.show()

slider.observe(redraw, "value")
redraw()
display(widgets.VBox([slider, output]))'''
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Widget probe"), nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def fresh_copy(source: Path, target: Path) -> None:
    """The notebook as a reader who has not run it yet sees it: no outputs, no saved widget state (so
    every figure and every number on the page after Run All is this run's)."""
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, target)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("browser-screenshots")
    yield folder
    # shown even when output capture is on (the run summary would hide a plain print of a passing test)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(f"\nbrowser screenshots: {folder}")
    else:
        print(f"browser screenshots: {folder}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    nbformat.write(probe_notebook(), root / PROBE)
    for path in chapter_notebooks():
        fresh_copy(path, root / path.name)
    server = LabServer(root, tmp_path_factory.mktemp("lab-state"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def context(browser):
    """One browser context for the module, so JupyterLab's few MB of JavaScript are fetched and compiled once
    (its HTTP cache is the context's); every test still gets a page of its own and a fresh workspace."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    yield page
    page.close()


def open_and_run_all(page, lab: LabServer, notebook: str) -> None:
    page.goto(lab.url(notebook))
    page.wait_for_selector(f"{NOTEBOOK} .jp-CodeCell")
    wait_for(lambda: lab.kernel_state(notebook) == "idle", UI_TIMEOUT_MS / 1000, message=f"{notebook}'s kernel")
    page.locator('.lm-MenuBar-itemLabel:text-is("Run")').click()
    page.locator('.lm-Menu-itemLabel:text-is("Run All Cells")').click()

    def finished():
        errors = page_errors(page)
        assert not errors, f"{notebook}: the page shows {errors} while running"
        numbers = prompts(page)
        return numbers and all(number.isdigit() for number in numbers)

    wait_for(finished, RUN_TIMEOUT, interval=0.5, message=f"Run All in {notebook}")


def figure_source(image) -> str | None:
    try:
        return image.get_attribute("src", timeout=2000)
    except sync_api.Error:
        return None  # between clear_output and the new figure


def nudge(control) -> None:
    """Move a slider one step (right, or left at its maximum) by its handle and the keyboard; click a
    button."""
    handle = control.locator(".noUi-handle")
    if handle.count() == 0:
        control.click()
        return
    handle.first.click()
    at_maximum = handle.first.get_attribute("aria-valuenow") == handle.first.get_attribute("aria-valuemax")
    handle.first.press("ArrowLeft" if at_maximum else "ArrowRight")


def move_control_and_see_redraw(page, lab: LabServer, notebook: str):
    """Find the widget whose controls drive a figure, move its controls one at a time until the figure
    changes; return (the widget's output area, what was moved)."""
    areas = (page.locator(f"{NOTEBOOK} .jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output")
             .filter(has=page.locator(".widget-slider, .widget-button"))
             .filter(has=page.locator(".widget-output img")))
    assert areas.count() >= 1, f"{notebook}: no slider or button next to a figure in an ipywidgets.Output"
    area = areas.first
    area.scroll_into_view_if_needed()
    image = area.locator(".widget-output img").first
    before = figure_source(image)
    assert before and before.startswith("data:image/png"), f"{notebook}: the widget's figure is not a PNG"

    controls = area.locator(".widget-slider:not(.mod-disabled), .widget-button:not([disabled])")
    tried = []
    for index in range(controls.count()):
        control = controls.nth(index)
        label = (control.inner_text().strip().splitlines() or ["?"])[0]
        tried.append(label)
        nudge(control)
        start = time.monotonic()
        idle_since = None
        while time.monotonic() - start < REDRAW_TIMEOUT:
            current = figure_source(image)
            if current and current != before:
                return area, label
            if lab.kernel_state(notebook) == "idle":
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > SETTLE:
                    break  # the kernel is done and the figure did not change: this control is inert here
            else:
                idle_since = None
            time.sleep(0.25)
    pytest.fail(f"{notebook}: no control changed the figure (tried {tried})")


def check_widget_redraws(page, lab: LabServer, notebook: str, screenshots: Path) -> None:
    try:
        open_and_run_all(page, lab, notebook)
        area, moved = move_control_and_see_redraw(page, lab, notebook)
        page.wait_for_timeout(500)  # let the last PNG paint before the screenshot
        area.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"{Path(notebook).stem}.png"))
        errors = page_errors(page)
        assert not errors, f"{notebook}: after moving {moved!r} the page shows {errors}"
    except BaseException:
        page.screenshot(path=str(screenshots / f"{Path(notebook).stem}-failed.png"))
        raise
    finally:
        lab.shutdown_kernels()


def test_probe_slider_redraws_its_figure(page, lab, screenshots):
    check_widget_redraws(page, lab, PROBE, screenshots)


@pytest.mark.parametrize("notebook", CHAPTERS)
def test_chapter_control_redraws_its_figure(page, lab, screenshots, notebook):
    check_widget_redraws(page, lab, notebook, screenshots)


def test_html_edition_index_and_a_chapter_render(page, screenshots, tmp_path):
    """The edition read offline: every request leaving the page is refused, yet the figures, the
    formulas (MathML, drawn natively) and the animation player's buttons all show."""
    published = build_edition(tmp_path / "html", execute=False)
    blocked = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
               else (blocked.append(route.request.url), route.abort()))
    page.goto((tmp_path / "html" / "index.html").as_uri(), wait_until="domcontentloaded")
    links = page.locator("ol.chapters a")
    assert [links.nth(i).inner_text() for i in range(links.count())] == [chapter.title for chapter in published]
    page.screenshot(path=str(screenshots / "edition-index.png"))

    chapter = next((chapter for chapter in published if chapter.widgets), published[0])
    links.nth(published.index(chapter)).click()
    page.wait_for_load_state("domcontentloaded")
    assert page.title() == chapter.title
    # every figure decoded: an <img> whose data is broken has naturalWidth 0
    sizes = page.eval_on_selector_all("main img", "images => images.map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) >= chapter.figures and all(done and width > 0 for done, width in sizes), sizes
    assert not page_errors(page)
    fallback = page.locator(".course-widget-fallback")
    if fallback.count():
        fallback.first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"edition-{Path(chapter.page).stem}.png"))

    for chapter in published:
        page.goto((tmp_path / "html" / chapter.page).as_uri(), wait_until="load")
        # drawn formulas: MathML boxes with a real size; no TeX source left in the text
        boxes = page.eval_on_selector_all("math", "nodes => nodes.map(n => n.getBoundingClientRect().width)")
        assert boxes and min(boxes) > 0, f"{chapter.page}: {len(boxes)} formulas, widths {boxes[:5]}"
        text = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
        prose = re.sub(r"\n.*?\n", "\n", text)
        assert not re.search(r"\\(frac|partial|sqrt|leftarrow|eta|beta)\b|\$\$", prose), f"raw TeX on {chapter.page}"
        page.locator("math[display=block]").first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"edition-maths-{Path(chapter.page).stem}.png"))
        if chapter.animations:
            icons = page.locator(".course-player-icon")
            assert icons.count() >= 9 and all(icons.nth(i).inner_text().strip() for i in range(9))
    assert not blocked, f"the edition asked the network for {blocked[:3]}"
