"""The notebook executor saves what a reader should see, the same on every run."""

import nbformat

from lib.course.notebooks import _coalesce_streams, execute_notebook


def test_consecutive_prints_become_one_stream_output():
    outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
               nbformat.v4.new_output("stream", name="stdout", text="b\n"),
               nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
               nbformat.v4.new_output("stream", name="stdout", text="c\n")]
    merged = _coalesce_streams(outputs)
    assert [(o.name, o.text) for o in merged] == [("stdout", "a\nb\n"), ("stderr", "warning\n"), ("stdout", "c\n")]


def test_executing_saves_outputs_without_timestamps(tmp_path):
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import lib\nprint(6 * 7)")]), path)
    execute_notebook(path, timeout=60)
    first = path.read_bytes()
    cell = nbformat.read(path, 4).cells[0]
    assert cell.outputs[0].text == "42\n" and "execution" not in cell.metadata
    execute_notebook(path, timeout=60)
    assert path.read_bytes() == first


def test_widget_model_ids_are_numbered_not_random(tmp_path):
    path = tmp_path / "widget.ipynb"
    source = "import ipywidgets\nipywidgets.VBox([ipywidgets.IntSlider(value=3)])"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), path)
    execute_notebook(path, timeout=60)
    first = path.read_bytes()
    execute_notebook(path, timeout=60)
    assert path.read_bytes() == first
    notebook = nbformat.read(path, 4)
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    view = notebook.cells[0].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] in state and set(state) == {f"{n:032x}" for n in range(1, len(state) + 1)}
