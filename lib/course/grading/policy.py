"""What a solution cell may not do, read from its source before it ever runs.

The grader runs only the master's own cells with each student's solution-cell sources put in (see
:mod:`lib.course.grading.grade`), so a solution cell is the one place where student code meets the
checker. This screen rejects the ways a solution can get marks without writing the exercise:

- using the course's own implementation of the thing it must write (``from lib.optimizers import
  Adam``, ``class Adam(lib.optimizers.Adam): pass``, any ``lib`` module the master itself does not
  import for ordinary use, and always ``lib.checks``, ``lib.chapters`` and ``lib.course``);
- touching the checker, the shell, the process or files (``get_ipython``, frames, ``inspect``,
  ``gc``, ``ctypes``, ``importlib``, ``__import__``, ``open``, ``os``, ``subprocess``, ``exit`` …),
  rebinding a name the check cells use, or changing a module's attributes.

A rejected exercise scores 0 with the rule's reason and the line; the other exercises are graded.
The rules are the table :data:`RULES`: one reason per rule, and every finding names its rule.
Everything is decided from the master's metadata and sources, never per exercise.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import nbformat

from lib.course.grading.notebook_format import Master, role_of

REFERENCE = "uses the course's reference implementation"
CHECKER = "touches the checker"

# lib packages a solution may never use, whatever the master imports: the checks (and their answer
# digests), the chapters' experiments (which re-export the reference code) and the grading tools.
ALWAYS_FORBIDDEN_LIB = ("lib.checks", "lib.chapters", "lib.course")

# Modules that reach the shell, the interpreter's internals, the process, files or the network.
SHELL_AND_PROCESS_MODULES = frozenset({
    "IPython", "ipykernel", "jupyter_client", "traitlets", "zmq", "tornado", "asyncio",
    "sys", "builtins", "importlib", "inspect", "gc", "ctypes", "types", "code", "codeop", "runpy",
    "atexit", "faulthandler", "signal", "resource", "weakref", "dis", "marshal", "pickle", "copyreg",
    "os", "posix", "pathlib", "shutil", "glob", "io", "tempfile", "fcntl", "mmap", "pty", "site",
    "sysconfig", "subprocess", "multiprocessing", "concurrent", "threading", "_thread", "socket",
    "ssl", "http", "urllib", "ftplib", "smtplib", "select", "selectors",
})

# Built-in names that reach the shell, the namespace the checks run in, or the process.
SHELL_NAMES = frozenset({
    "get_ipython", "__import__", "eval", "exec", "compile", "globals", "locals", "vars",
    "breakpoint", "exit", "quit", "open", "__builtins__", "__builtin__", "setattr", "delattr",
})

# Attributes that lead from an object to frames, code, globals or the class hierarchy.
INTROSPECTION_ATTRIBUTES = frozenset({
    "__globals__", "__builtins__", "__code__", "__closure__", "__subclasses__", "__bases__", "__base__",
    "__mro__", "__dict__", "__getattribute__", "__setattr__", "__delattr__", "__import__", "__loader__",
    "__spec__", "__traceback__", "__self__", "__func__", "__reduce__", "__reduce_ex__", "__module__",
    "_getframe", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "gi_frame", "cr_frame",
    "ag_frame", "tb_frame", "tb_next",
})


@dataclass(frozen=True)
class Rule:
    name: str
    reason: str          # what the student reads: REFERENCE or CHECKER
    explains: str        # why the rule exists, for the instructor's table


RULES = (
    Rule("reference-import", REFERENCE,
         "imports a `lib` module the master's own cells do not import, or lib.chapters or lib.course "
         "(whatever the master imports)"),
    Rule("reference-name", REFERENCE,
         "takes from a `lib` module an object named like the one the exercise must write "
         "(`lib.optimizers.Adam` in an exercise that writes `Adam`), to import, subclass or wrap it"),
    Rule("shell-module", CHECKER,
         "imports a module that reaches the shell, the interpreter, the process, files or the network "
         "(sys, os, inspect, gc, ctypes, importlib, subprocess, pathlib, threading, …)"),
    Rule("shell-name", CHECKER,
         "uses a built-in that reaches the shell, the checks' namespace or the process "
         "(get_ipython, __import__, eval, exec, globals, open, exit, quit, setattr, delattr …)"),
    Rule("introspection", CHECKER,
         "reads frames, code objects, globals or the class hierarchy (`__globals__`, `_getframe`, "
         "`f_locals`, `__subclasses__` …), or looks an attribute up by a computed name"),
    Rule("check-name", CHECKER,
         "imports the checks, uses a name the master binds to them (e.g. `checks`), or rebinds a "
         "name the master imports (e.g. `np`)"),
    Rule("module-attribute", CHECKER,
         "assigns or deletes an attribute of an imported module (e.g. `np.allclose = …`)"),
)
_RULES = {rule.name: rule for rule in RULES}


@dataclass(frozen=True)
class Finding:
    rule: str
    line: int
    detail: str

    @property
    def reason(self) -> str:
        return _RULES[self.rule].reason

    def describe(self, exercise: str) -> str:
        return (f"[{exercise}] Your solution {self.reason} (line {self.line}: {self.detail}), so it "
                f"scores 0. Write the exercise with numpy and plain Python.")


@dataclass(frozen=True)
class MasterContext:
    """What the master's own ordinary cells import, and what each exercise must define."""

    allowed_lib_modules: frozenset[str]          # lib modules the master's ordinary cells import
    imported_names: dict[str, str]               # name → module (or module.object) the ordinary cells bind
    check_names: frozenset[str]                  # names bound to lib.checks modules or their objects
    defines: dict[str, frozenset[str]]           # exercise id → names its master solution cell defines


def _is_lib(module: str) -> bool:
    return module == "lib" or module.startswith("lib.")


def _under(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def imports_of(source: str) -> list[tuple[str, str, str | None]]:
    """``(bound name, module, object or None)`` for every import statement of ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    bound = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound.append((alias.asname, alias.name, None))
                else:
                    bound.append((alias.name.split(".")[0], alias.name.split(".")[0], None))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                bound.append((alias.asname or alias.name, node.module, alias.name))
    return bound


def _top_level_definitions(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def master_context(master: Master) -> MasterContext:
    allowed, imported, check_names = set(), {}, set()
    defines: dict[str, frozenset[str]] = {}
    for cell in master.notebook.cells:
        if cell.cell_type != "code":
            continue
        role = role_of(cell)
        if role == "solution":
            exercise = cell.metadata["course"]["exercise"]
            defines[exercise] = frozenset(_top_level_definitions(cell.source))
            continue
        if role == "check":
            continue
        for name, module, obj in imports_of(cell.source):
            full = module if obj is None else f"{module}.{obj}"
            imported[name] = full
            if _is_lib(module):
                # `from lib import optimizers` imports the module lib.optimizers
                allowed.add(full if module == "lib" else module)
            if _under(module, ("lib.checks",)) or (module == "lib" and obj == "checks"):
                check_names.add(name)
    return MasterContext(frozenset(allowed), imported, frozenset(check_names), defines)


def _lib_module_allowed(module: str, context: MasterContext) -> bool:
    if _under(module, ALWAYS_FORBIDDEN_LIB):
        return False
    return module in context.allowed_lib_modules


def _dotted(node) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def screen(source: str, exercise: str, context: MasterContext) -> list[Finding]:
    """Every rule the solution ``source`` of ``exercise`` breaks (empty: it may run).

    A source that does not parse is not rejected here: running it gives the student Python's own
    SyntaxError, which says more."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    findings: list[Finding] = []
    must_write = context.defines.get(exercise, frozenset())
    # Names that refer to modules inside this cell: the master's imports and the cell's own.
    module_names = {name: target for name, target in context.imported_names.items()}
    own_imports = imports_of(source)
    for name, module, obj in own_imports:
        module_names[name] = module if obj is None else f"{module}.{obj}"

    def add(rule: str, node, detail: str) -> None:
        findings.append(Finding(rule, getattr(node, "lineno", 0), detail))

    def lib_target(dotted: str) -> str | None:
        """The lib path a dotted name refers to, through the names bound to modules."""
        head, _, rest = dotted.partition(".")
        base = module_names.get(head, head if head == "lib" else None)
        if base is None or not _is_lib(base):
            return None
        return f"{base}.{rest}" if rest else base

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    add("reference-import", node, "a relative import")
                    continue
                modules = [(node.module or "", alias.name) for alias in node.names]
            else:
                modules = [(alias.name, None) for alias in node.names]
            for module, obj in modules:
                root = module.split(".")[0]
                if root in SHELL_AND_PROCESS_MODULES or module in SHELL_AND_PROCESS_MODULES:
                    add("shell-module", node, f"imports `{module}`")
                elif _is_lib(module):
                    full = f"{module}.{obj}" if (module == "lib" and obj) else module
                    if _under(full, ("lib.checks",)):
                        add("check-name", node, f"imports `{full}`, the checks")
                    elif module == "lib" and obj is None:
                        add("reference-import", node, "imports `lib`")
                    elif not _lib_module_allowed(full, context):
                        add("reference-import", node, f"imports `{full}`")
                    elif obj in must_write:
                        add("reference-name", node, f"imports `{obj}` from `{module}`")
                elif obj == "*":
                    add("shell-name", node, f"`from {module} import *` hides where names come from")
        elif isinstance(node, ast.Name):
            if node.id in SHELL_NAMES:
                add("shell-name", node, f"uses `{node.id}`")
            elif node.id in context.check_names:
                add("check-name", node, f"uses `{node.id}`, which the check cells use")
            elif (isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in context.imported_names):
                add("check-name", node, f"rebinds `{node.id}`, which the master imports")
            elif _under(context.imported_names.get(node.id, ""), ("lib.chapters", "lib.course")):
                add("reference-import", node, f"uses `{node.id}`, the chapter's own code")
            elif node.id == "lib":
                pass   # judged with its attributes below
        elif isinstance(node, ast.Attribute):
            if node.attr in INTROSPECTION_ATTRIBUTES:
                add("introspection", node, f"uses `.{node.attr}`")
            dotted = _dotted(node)
            if dotted is not None:
                target = lib_target(dotted)
                if target is not None:
                    module_part = target.rsplit(".", 1)[0]
                    if node.attr in must_write and _is_lib(module_part):
                        add("reference-name", node, f"uses `{dotted}`")
                    elif (dotted.count(".") == 1 and dotted.split(".")[0] == "lib"
                          and not _lib_module_allowed(target, context)):
                        add("reference-import", node, f"uses `{dotted}`")
                head = dotted.split(".")[0]
                if isinstance(node.ctx, (ast.Store, ast.Del)) and head in module_names:
                    add("module-attribute", node, f"changes `{dotted}`")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("getattr", "hasattr") and len(node.args) >= 2:
                name = node.args[1]
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    add("introspection", node, f"`{node.func.id}` with a computed attribute name")
                elif name.value in INTROSPECTION_ATTRIBUTES:
                    add("introspection", node, f"`{node.func.id}(…, {name.value!r})`")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                if name in context.check_names or name in context.imported_names:
                    add("check-name", node, f"declares `{name}` global")
    # One finding per line and rule is enough to read; order by line, then rule table order.
    order = {rule.name: i for i, rule in enumerate(RULES)}
    unique = {(f.line, f.rule): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.line, order[f.rule], f.detail))


def rules_table() -> str:
    """The policy as a Markdown table (README, feedback for instructors)."""
    lines = ["| rule | reason the student reads | what it catches |", "| --- | --- | --- |"]
    lines += [f"| `{rule.name}` | {rule.reason} | {rule.explains} |" for rule in RULES]
    return "\n".join(lines)


def screen_cell(cell: nbformat.NotebookNode, exercise: str, context: MasterContext) -> list[Finding]:
    return screen(cell.source, exercise, context)
