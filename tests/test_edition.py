"""The static HTML edition (``python -m lib.course.edition --out DIR``): an index linking every chapter in order,
one page per chapter with all its figures and animations, widgets replaced by their saved figure, no
error output, formulas as MathML, and nothing fetched from the network.

The course-wide test converts the committed notebooks (``--no-execute``): they are committed executed,
and the same test run executes each of them with nbval, so executing them a second time here would only
double the suite's longest part. The execution path (a temporary copy run in a fresh kernel, widget
state captured live) is tested on a small notebook instead.
"""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest
from bs4 import BeautifulSoup

from lib.course.edition import (build_edition, chapter_notebooks, math_to_placeholders, notebook_title,
                                placeholders_to_math)
from lib.course.notebooks import ROOT, kernel_environment

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def page_pngs(soup) -> list[str]:
    """Base64 payloads of the page's <img> elements (whitespace removed)."""
    return ["".join(img["src"].split(",", 1)[1].split()) for img in soup.find_all("img")
            if img.get("src", "").startswith("data:image/png;base64,")]


def notebook_pngs(notebook) -> list[str]:
    """Every PNG a reader of the notebook sees: plain outputs, and what each Output widget showed."""
    pngs = [output["data"]["image/png"] for cell in notebook.cells for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})]
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    pngs += [output["data"]["image/png"] for model in state.values() if model.get("model_name") == "OutputModel"
             for output in model["state"].get("outputs", []) if "image/png" in output.get("data", {})]
    return ["".join(png.split()) for png in pngs]


def has_animation(notebook) -> int:
    return sum('class="animation"' in str(output.get("data", {}).get("text/html", ""))
               for cell in notebook.cells for output in cell.get("outputs", []))


def error_texts(soup) -> list[str]:
    """Error outputs and anything written to stderr, as rendered on the page."""
    stderr = [node.get_text()[:200] for node in soup.select('[data-mime-type="application/vnd.jupyter.stderr"]')]
    text = soup.get_text()
    tracebacks = [pattern for pattern in ("Traceback (most recent call last)", "Error displaying widget")
                  if pattern in text]
    return stderr + tracebacks


def remote_resources(soup) -> set[str]:
    return {tag.get(attribute) for tag in soup.find_all(["script", "link", "img", "iframe"])
            for attribute in ("src", "href") if re.match(r"(https?:)?//", tag.get(attribute) or "")}


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """The course's edition, built by the documented command from the committed notebooks."""
    out = tmp_path_factory.mktemp("edition")
    result = subprocess.run([sys.executable, "-m", "lib.course.edition", "--out", str(out), "--no-execute"], cwd=ROOT,
                            env=kernel_environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


CHAPTERS = chapter_notebooks()


def test_index_links_every_chapter_in_order_with_its_title(edition):
    assert CHAPTERS, "no chapter notebooks found"
    soup = BeautifulSoup((edition / "index.html").read_text(encoding="utf-8"), "html.parser")
    links = [(a["href"], a.get_text()) for a in soup.select("ol.chapters a")]
    expected = [(path.stem + ".html", notebook_title(nbformat.read(path, as_version=4), path.stem))
                for path in CHAPTERS]
    assert links == expected
    assert all(title.startswith(f"Chapter {number}") for number, (_, title) in enumerate(links, start=1)), links


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_chapter_page_has_every_figure_and_no_error(edition, chapter):
    page = edition / (chapter.stem + ".html")
    assert page.exists(), f"{page.name} was not written"
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    notebook = nbformat.read(chapter, as_version=4)

    expected = notebook_pngs(notebook)
    shown = page_pngs(soup)
    assert expected, f"{chapter.name} has no figure"
    missing = [index for index, png in enumerate(expected) if png not in shown]
    assert not missing, f"{len(missing)} of {len(expected)} figures of {chapter.name} are not on its page"
    alts = [img.get("alt", "") for img in soup.find_all("img")]
    assert all(alt.startswith("Figure for: ") for alt in alts), f"figures without a description: {alts}"
    assert len(soup.select("div.animation")) == has_animation(notebook)

    assert not error_texts(soup), error_texts(soup)
    assert not soup.find("script", type=re.compile("widget")), "a widget left for a (remote) widget manager"
    remote = remote_resources(soup)
    assert not remote, f"{page.name} loads {remote}"
    navigation = {a["href"] for a in soup.select("nav.course-nav a")}
    assert "index.html" in navigation


def test_chapter_pages_link_to_their_neighbours(edition):
    pages = [path.stem + ".html" for path in CHAPTERS]
    for position, page in enumerate(pages):
        soup = BeautifulSoup((edition / page).read_text(encoding="utf-8"), "html.parser")
        links = {a["href"] for a in soup.select("nav.course-nav a")}
        neighbours = set(pages[max(position - 1, 0):position + 2]) - {page}
        assert links == neighbours | {"index.html"}, (page, links)


# --- the execution path, on a notebook small enough to run in a second or two --------------------------

# The pattern every chapter's control uses: the figure goes into the Output widget's state.
WIDGET_CELL = '''\
import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from lib.plots import show_in_output

slider = widgets.IntSlider(value=3, min=1, max=9, description="frequency")
output = widgets.Output()
fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
ax.plot([(i * slider.value) % 5 for i in range(20)])
show_in_output(output, fig)
display(widgets.VBox([slider, output]))'''


def small_chapter(tmp_path, *cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Chapter 9 — A small chapter\n\nIt draws one figure."),
                      *(nbformat.v4.new_code_cell(source) for source in cells)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "09_small.ipynb"
    nbformat.write(notebook, path)
    return path


def test_build_executes_a_copy_and_shows_the_widget_figure_it_drew(tmp_path):
    path = small_chapter(tmp_path, "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
                                   "ax.plot([1, 3, 2])\nplt.show()", WIDGET_CELL)
    source_before = path.read_bytes()
    [published] = build_edition(tmp_path / "html", [path], execute=True)

    assert path.read_bytes() == source_before, "the build wrote outputs into the source notebook"
    assert published.seconds is not None and published.widgets == 1 and published.figures == 2
    soup = BeautifulSoup((tmp_path / "html" / published.page).read_text(encoding="utf-8"), "html.parser")
    assert soup.title.get_text() == "Chapter 9 — A small chapter"
    fallback = soup.select_one(".course-widget-fallback")
    assert fallback is not None and "frequency = 3" in fallback.get_text()
    assert len(fallback.find_all("img")) == 1, "the figure the widget showed is missing"
    assert len(page_pngs(soup)) == 2
    assert not soup.find("script", type=re.compile("widget"))


def test_widget_without_saved_state_points_to_jupyterlab(tmp_path):
    path = small_chapter(tmp_path, WIDGET_CELL)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output(
        "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "0" * 32, "version_major": 2,
                                                                           "version_minor": 0},
                              "text/plain": "VBox(...)"})]
    nbformat.write(notebook, path)
    [published] = build_edition(tmp_path / "html", [path], execute=False)
    soup = BeautifulSoup((tmp_path / "html" / published.page).read_text(encoding="utf-8"), "html.parser")
    assert "open this chapter in JupyterLab" in soup.select_one(".course-widget-fallback").get_text()


def test_a_chapter_with_an_error_output_is_not_published(tmp_path):
    path = small_chapter(tmp_path, "1 / 0")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError",
                                                        evalue="division by zero", traceback=[])]
    nbformat.write(notebook, path)
    with pytest.raises(RuntimeError, match="09_small.ipynb has error output.*cell 1: ZeroDivisionError"):
        build_edition(tmp_path / "html", [path], execute=False)
    assert not (tmp_path / "html" / "09_small.html").exists()


def test_formulas_become_mathml_and_code_and_escaped_dollars_stay():
    formulas: list[str] = []
    markdown = r"Rate $\eta_t$, cost \$5, code `$HOME`, and $$W \leftarrow W - \eta \frac{\partial L}{\partial W}$$"
    tokens = math_to_placeholders(markdown, formulas)
    assert len(formulas) == 2 and "$" not in tokens.replace(r"\$", "").replace("`$HOME`", "")
    assert "`$HOME`" in tokens and r"\$5" in tokens
    html = placeholders_to_math(tokens, formulas)
    assert html.count("<math") == 2 and 'display="block"' in formulas[1] and "<mfrac>" in formulas[1]


@pytest.mark.parametrize("chapter", [path.stem for path in chapter_notebooks()])
def test_chapter_page_has_no_raw_tex(edition, chapter):
    soup = BeautifulSoup((edition / f"{chapter}.html").read_text(encoding="utf-8"), "html.parser")
    for node in soup.select(".jp-RenderedMarkdown"):
        text = node.get_text(" ")
        for code in node.find_all(["code", "pre"]):
            text = text.replace(code.get_text(" "), "")
        assert not re.search(r"\$[^$]*\\[a-zA-Z]+|\\(frac|partial|sum|sqrt)\b", text), text[:300]
    assert soup.find("math") is not None
    assert not re.search(r"COURSEMATH\d+Z", str(soup))
