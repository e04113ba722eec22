"""Build the static HTML edition of the course: every chapter notebook, executed, one page each, and an
index page linking them in order.

    python -m lib.course.edition --out html                # executes every chapter afresh (a minute or two)
    python -m lib.course.edition --out html --no-execute   # converts the committed, executed notebooks (seconds)

Then open ``html/index.html``. Each chapter runs top to bottom in a fresh kernel on a temporary copy (the
notebooks in the repository are left as they are) and is converted with nbconvert's ``HTMLExporter``
(JupyterLab look). Figures are embedded as PNG data, animations as their self-contained JavaScript player.

A widget cannot move without a kernel, so every interactive control becomes its static fallback: the
figure its ``Output`` showed in the saved widget state, with the controls' values it was drawn at, and a
note that the controls are live in JupyterLab. (Embedding the live widget manager would mean loading
it from a CDN, and the picture could still not be redrawn.)

The pages load nothing from the network. Formulas are converted from LaTeX to MathML when the edition
is built (with ``latex2mathml``), and browsers draw MathML natively: no MathJax, no fonts, no script.
The animation player's buttons use plain Unicode symbols instead of an icon font from a CDN.

A chapter with an error output is never published: the build stops and names the cell.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import nbformat
from nbconvert import HTMLExporter
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from lib.course.notebooks import ROOT, execute_notebook
from lib.plots import offline_player_html

CHAPTERS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
ANIMATION_MARKER = 'class="animation"'  # the player div matplotlib's to_jshtml writes
EMBEDDED_PNG = re.compile(r'<img [^>]*src="data:image/png;base64,')

# The lab template without the pieces that would be fetched from a CDN and are not needed here:
# require.js and the widget manager (widgets are replaced by their static fallback).
TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ output.metadata.get('course_alt', 'Figure') | escape_html }}">
</div>
{%- endblock data_png %}
{% block extra_css %}
<style type="text/css">
.course-nav { display: flex; justify-content: space-between; gap: 1em; max-width: 1000px;
  margin: 0.5em auto; padding: 0.5em 1em; font-family: var(--jp-ui-font-family, sans-serif);
  border-bottom: 1px solid #ddd; }
.course-nav:last-of-type { border-bottom: none; border-top: 1px solid #ddd; }
.course-widget-fallback { border-left: 3px solid #4a90d9; padding: 0.25em 0 0.25em 0.75em; }
.course-widget-note { font-style: italic; color: #555; margin: 0.25em 0 0.5em; }
.course-widget-fallback img { max-width: 100%; }
math { font-size: 1.1em; }
math[display="block"] { margin: 0.6em 0; }
</style>
{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
{{ resources.course_nav }}
{%- endblock body_header -%}
{% block body_footer %}
{{ resources.course_nav }}
{{ super() }}
{% endblock body_footer %}
"""

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style type="text/css">
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 760px;
  margin: 3em auto; padding: 0 1em; line-height: 1.5; color: #222; }}
ol.chapters li {{ margin: 0.9em 0; }}
ol.chapters a {{ font-size: 1.1em; }}
ol.chapters p {{ margin: 0.2em 0; color: #444; }}
p.note {{ color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
{intro}
<ol class="chapters">
{items}
</ol>
<p class="note">A static edition: every figure as it came out of {provenance}. The sliders and buttons
are live when the notebooks are opened in JupyterLab; here each shows the picture it was drawn with.</p>
</body>
</html>
"""


@dataclass
class ChapterPage:
    """One published chapter: its source notebook, page file name, title and what the page contains."""

    source: Path
    page: str
    title: str
    figures: int     # PNG images on the page, widget fallbacks included
    animations: int
    widgets: int     # interactive controls replaced by their static fallback
    seconds: float | None  # execution time, None when the committed outputs were used


def chapter_notebooks(folder: Path = CHAPTERS) -> list[Path]:
    """Chapter notebooks in course order (their names start with the chapter number)."""
    return sorted(folder.glob("[0-9]*.ipynb"))


def notebook_title(notebook, fallback: str) -> str:
    """The text of the first level-1 Markdown heading, without Markdown emphasis."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return re.sub(r"[*_`]", "", line[2:]).strip()
    return fallback


def chapter_summary(notebook) -> str:
    """The first sentence of the chapter's opening paragraph (the one after its title) as HTML, for the
    index page (which loads no MathJax, so a sentence with a formula is left out)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            paragraphs = [block.strip() for block in cell.source.split("\n\n")[1:] if block.strip()]
            sentence = re.split(r"(?<=[.!?])\s", paragraphs[0], maxsplit=1)[0] if paragraphs else ""
            return markdown2html_mistune(sentence) if sentence and "$" not in sentence else ""
    return ""


def error_outputs(notebook) -> list[str]:
    """A description of every error output (``cell N: ename: evalue``)."""
    return [f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
            for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.output_type == "error"]


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "–".join(_format_value(v) for v in value)
    return str(value)


def _widget_tree(state: dict, model_id: str, seen: set[str] | None = None) -> list[dict]:
    """The model and all its descendants (``children``) in display order."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    models = [model]
    for child in model.get("state", {}).get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            models.extend(_widget_tree(state, child[len("IPY_MODEL_"):], seen))
    return models


def _control_label(model: dict) -> str | None:
    """``description = value`` for a control (slider, dropdown, toggle); None for anything else."""
    state = model.get("state", {})
    description = state.get("description") or ""
    if "_options_labels" in state and state.get("index") is not None:
        index = state["index"]
        labels = state["_options_labels"]
        value = labels[index] if isinstance(index, int) and 0 <= index < len(labels) else index
    elif ("value" in state and "readout" in state) or model.get("model_name") in ("CheckboxModel", "ToggleButtonModel"):
        value = state.get("value")
    else:
        return None
    return f"{description} = {_format_value(value)}" if description else _format_value(value)


def _render_output(output: dict) -> str:
    """HTML for one output captured in an ``Output`` widget."""
    data = output.get("data", {})
    if output.get("output_type") == "stream":
        return f"<pre>{html.escape(output.get('text', ''))}</pre>"
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{data["image/png"].strip()}">'
    if "text/html" in data:
        return data["text/html"] if isinstance(data["text/html"], str) else "".join(data["text/html"])
    if "text/plain" in data:
        return f"<pre>{html.escape(str(data['text/plain']))}</pre>"
    return ""


def widget_fallback_html(view: dict, widget_state: dict) -> str:
    """The static stand-in for one widget output: its controls' saved values and its figure."""
    models = _widget_tree(widget_state, view.get("model_id", ""))
    labels = [label for label in map(_control_label, models) if label]
    rendered = [_render_output(output) for model in models if model.get("model_name") == "OutputModel"
                for output in model.get("state", {}).get("outputs", [])]
    rendered = [piece for piece in rendered if piece]
    if rendered:
        note = ("Interactive figure: in JupyterLab the controls redraw it. Shown here as saved, at "
                + html.escape(", ".join(labels) if labels else "its initial setting") + ".")
    else:
        note = ("Interactive control: it needs a live kernel — open this chapter in JupyterLab to use it. "
                "The static figure that follows shows the same picture.")
    return ('<div class="course-widget-fallback">'
            f'<p class="course-widget-note">{note}</p>{"".join(rendered)}</div>')


def describe_figures(notebook) -> None:
    """Give every figure an alternative text naming the section it illustrates (nbconvert would write
    "No description has been provided for this image")."""
    section = notebook_title(notebook, "the chapter")
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            section = re.sub(r"[*_`$\\]", "", headings[-1]) if headings else section
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            alt = f"Figure for: {section}"
            if "image/png" in data:
                output.setdefault("metadata", {})["course_alt"] = alt
            if "text/html" in data and isinstance(data["text/html"], str):
                data["text/html"] = re.sub(r"<img (?![^>]*\balt=)", f'<img alt="{html.escape(alt)}" ',
                                           data["text/html"])


def replace_widgets(notebook) -> int:
    """Replace every widget view in the outputs by its static fallback; drop the saved widget state (so
    no widget manager is requested). Returns the number of widgets replaced."""
    widget_state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in notebook.cells:
        for index, output in enumerate(cell.get("outputs", [])):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                continue
            cell.outputs[index] = nbformat.v4.new_output(
                "display_data", data={"text/html": widget_fallback_html(view, widget_state)})
            replaced += 1
    notebook.metadata.pop("widgets", None)
    return replaced


def count_figures(notebook) -> int:
    """PNG images in the outputs (after :func:`replace_widgets`, widget figures are in text/html)."""
    count = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            count += "image/png" in data
            if "text/html" in data:  # widget fallbacks; an animation's frames are data in its script, not <img>s
                count += len(EMBEDDED_PNG.findall(str(data["text/html"])))
    return count


def count_animations(notebook) -> int:
    return sum(str(output.get("data", {}).get("text/html", "")).count(ANIMATION_MARKER)
               for cell in notebook.cells for output in cell.get("outputs", []))


def _navigation(pages: list[tuple[str, str]], position: int) -> str:
    """Previous chapter, contents, next chapter."""
    def link(index: int, text: str) -> str:
        if not 0 <= index < len(pages):
            return "<span></span>"
        return f'<a href="{html.escape(pages[index][0])}">{text.format(html.escape(pages[index][1]))}</a>'

    return (f'<nav class="course-nav">{link(position - 1, "← {}")}<a href="index.html">Contents</a>'
            f'{link(position + 1, "{} →")}</nav>')


# Display maths ($$…$$) first, then inline ($…$); code spans and fenced blocks are left alone, and so is
# an escaped dollar (\$).
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\\\s])\$(?!\$)", re.S)
_TOKEN = "COURSEMATH{:05d}Z"


def math_to_placeholders(markdown: str, formulas: list[str]) -> str:
    """Replace each formula in ``markdown`` with a token and append its MathML to ``formulas``.

    The tokens pass through the Markdown renderer untouched; :func:`placeholders_to_math` puts the
    MathML back into the HTML. (MathML written straight into Markdown would be re-read as Markdown:
    an ``_`` or ``*`` inside a formula would turn into emphasis.)"""
    def convert(match: re.Match) -> str:
        display, inline = match.group(1), match.group(2)
        latex = display if display is not None else inline
        try:
            mathml = latex_to_mathml(latex.strip(), display="block" if display is not None else "inline")
        except Exception as error:  # an unsupported command: show the source rather than lose the page
            mathml = f'<code class="course-math-error" title="{html.escape(str(error))}">{html.escape(latex)}</code>'
        formulas.append(mathml)
        return _TOKEN.format(len(formulas) - 1)

    pieces, last = [], 0
    for code in _CODE.finditer(markdown):
        pieces.append(_MATH.sub(convert, markdown[last:code.start()]))
        pieces.append(code.group(0))
        last = code.end()
    pieces.append(_MATH.sub(convert, markdown[last:]))
    return "".join(pieces)


def placeholders_to_math(body: str, formulas: list[str]) -> str:
    return re.sub(r"COURSEMATH(\d{5})Z", lambda match: formulas[int(match.group(1))], body)


def render_math(notebook) -> list[str]:
    """Turn every markdown cell's formulas into tokens; return the MathML for the tokens, in order."""
    formulas: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_placeholders(cell.source, formulas)
    return formulas


def _exporter() -> HTMLExporter:
    return HTMLExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"course_edition.html.j2": TEMPLATE})],
                        template_file="course_edition.html.j2")


def _course_heading() -> tuple[str, str]:
    """The README's title and first paragraph, for the index page."""
    readme = ROOT / "README.md"
    title, paragraph = "The course", ""
    if readme.exists():
        blocks = readme.read_text(encoding="utf-8").split("\n\n")
        if blocks and blocks[0].startswith("# "):
            title = blocks[0][2:].strip()
            paragraph = blocks[1].strip() if len(blocks) > 1 and not blocks[1].startswith("#") else ""
    paragraph = re.sub(r"\*([^*]+)\*", r"<em>\1</em>", html.escape(paragraph.replace("\n", " ")))
    return title, f"<p>{paragraph}</p>" if paragraph else ""


def load_chapter(path: Path, *, execute: bool, workdir: Path, timeout: int = 120):
    """The chapter notebook with fresh outputs (executed on a copy in ``workdir``) or its committed ones;
    returns ``(notebook, seconds or None)``."""
    if not execute:
        return nbformat.read(path, as_version=4), None
    copy = workdir / path.name
    shutil.copyfile(path, copy)
    seconds = execute_notebook(copy, timeout=timeout)
    return nbformat.read(copy, as_version=4), seconds


def build_edition(out: Path, notebooks: list[Path] | None = None, *, execute: bool = True, timeout: int = 120,
                  log=None) -> list[ChapterPage]:
    """Write ``index.html`` and one page per chapter into ``out``; return what was published."""
    notebooks = chapter_notebooks() if notebooks is None else [Path(path) for path in notebooks]
    if not notebooks:
        raise ValueError("no chapter notebooks to publish")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    loaded = []
    with tempfile.TemporaryDirectory(prefix="course-edition-") as workdir:
        for path in notebooks:
            notebook, seconds = load_chapter(path, execute=execute, workdir=Path(workdir), timeout=timeout)
            errors = error_outputs(notebook)
            if errors:
                raise RuntimeError(f"{path.name} has error output, not publishing it: " + "; ".join(errors))
            loaded.append((path, notebook, seconds))
            if log:
                log(f"{'executed' if seconds is not None else 'loaded'} {path.name}"
                    + (f" in {seconds:.1f} s" if seconds is not None else ""))

    pages = [(path.stem + ".html", notebook_title(notebook, path.stem)) for path, notebook, _ in loaded]
    summaries = [chapter_summary(notebook) for _, notebook, _ in loaded]
    exporter = _exporter()
    published = []
    for position, ((path, notebook, seconds), (page, title)) in enumerate(zip(loaded, pages)):
        widgets = replace_widgets(notebook)
        describe_figures(notebook)
        formulas = render_math(notebook)
        notebook.metadata["title"] = title
        body, _ = exporter.from_notebook_node(
            notebook, resources={"metadata": {"name": title}, "course_nav": _navigation(pages, position)})
        body = offline_player_html(placeholders_to_math(body, formulas))
        (out / page).write_text(body, encoding="utf-8")
        published.append(ChapterPage(path, page, title, count_figures(notebook), count_animations(notebook),
                                     widgets, seconds))

    title, intro = _course_heading()
    items = "\n".join(f'<li><a href="{html.escape(page.page)}">{html.escape(page.title)}</a>{summary}</li>'
                      for page, summary in zip(published, summaries))
    provenance = "a fresh run of each chapter" if execute else "the last saved run of each chapter"
    (out / "index.html").write_text(INDEX_TEMPLATE.format(title=html.escape(title), intro=intro, items=items,
                                                          provenance=provenance), encoding="utf-8")
    return published


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.course.edition", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the edition into")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="use the outputs saved in the notebooks instead of running them")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapter notebooks (default: notebooks/*.ipynb)")
    args = parser.parse_args(argv)

    published = build_edition(args.out, args.notebooks or None, execute=args.execute, timeout=args.timeout,
                              log=lambda line: print(line, file=sys.stderr, flush=True))
    for page in published:
        print(f"{page.page:<34} {page.figures:3d} figures  {page.animations} animations  "
              f"{page.widgets} widgets  {page.title}")
    print(f"open {(args.out / 'index.html').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
