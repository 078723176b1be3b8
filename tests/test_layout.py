"""The layout holds: each part imports only what its package's docstring allows, no module imports
itself back through others, and what competition files import stays where the README says."""
import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("pipelines.core", "competitions", "pipelines.training", "features", "pipelines.kaggle", "pipelines.record", "submissions",
         "pipelines.engine", "pipelines.recipes")
OURS = ("pipelines", "features", "submissions", "competitions")


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources():
    """{module name: path} of the project's code: the engine, features, submissions, the registry."""
    found = {module_name(path): path for root in OURS[:3] for path in (ROOT / root).rglob("*.py")}
    found["competitions"] = ROOT / "competitions" / "__init__.py"
    return found


def imports(path, name):
    """The project's modules `path` imports, at its top or inside functions alike."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.update(f"{module}.{alias.name}" if f"{module}.{alias.name}" in sources() else module
                         for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module.split(".")[0] in OURS}


def part_of(module):
    """The part a module belongs to (the longest package of PARTS that holds it), or None: a command,
    a public module at the top of pipelines/, or a competition file."""
    if module.startswith("competitions."):
        return None
    holders = [part for part in PARTS if module == part or module.startswith(part + ".")]
    return max(holders, key=len) if holders else None


def allowed(part):
    """The parts `part`'s docstring says it may import."""
    doc = ast.get_docstring(ast.parse(sources()[part].read_text())) or ""
    line = re.search(r"^May import: (.*)$", doc, re.MULTILINE)
    assert line, f"{part}'s docstring does not say what it may import"
    return {name.strip(".") for name in re.findall(r"[a-z_.]+", line.group(1).split("(")[0]) if name.strip(".") in PARTS}


def test_each_part_imports_only_what_its_docstring_allows():
    wrong = []
    for name, path in sources().items():
        part = part_of(name)
        if part is None:
            continue
        for module in imports(path, name):
            target = part_of(module)
            if target != part and target not in allowed(part):
                wrong.append(f"{name} imports {module} ({target or 'a command or public module'})")
    assert not wrong, "\n".join(wrong)


def test_the_parts_are_layered_in_the_order_the_engine_names():
    order = {part: index for index, part in enumerate(PARTS)}
    for part in PARTS:
        assert all(order[below] < order[part] for below in allowed(part)), part


def test_no_module_imports_itself_back():
    graph = {name: {m for m in imports(path, name) if m in sources() and m != name} for name, path in sources().items()}
    state, loops = {}, []

    def visit(name, trail):
        state[name] = "open"
        for after in sorted(graph[name]):
            if state.get(after) == "open":
                loops.append(" -> ".join(trail[trail.index(after):] + [after]))
            elif after not in state:
                visit(after, trail + [after])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not loops, "\n".join(loops)


# what a competition file written for the README imports: (public module, name, where it lives)
PUBLIC = [
    ("pipelines.tabular", "tabular_competition", "pipelines.recipes.tabular"),
    ("pipelines.tabular", "linear_inputs", "pipelines.recipes.tabular"),
    ("pipelines.image", "image_competition", "pipelines.recipes.image"),
    ("pipelines.competition", "Member", "pipelines.engine.competition"),
    ("pipelines.competition", "Competition", "pipelines.engine.competition"),
    ("pipelines.params", "Param", "pipelines.engine.params"),
    ("pipelines.estimator", "SklearnEstimator", "pipelines.training.estimator"),
    ("pipelines.estimator", "LightningEstimator", "pipelines.training.estimator"),
    ("pipelines.members", "THREADS", "pipelines.recipes.members"),
    ("pipelines.metrics", "metric", "pipelines.engine.metrics"),
    ("pipelines.splits", "kfold", "pipelines.engine.splits"),
    ("pipelines.data", "load_tabular", "pipelines.core.data"),
    ("pipelines.errors", "UserError", "pipelines.core.errors"),
    ("features.tabular", "FrameStep", "features.tabular"),
]


@pytest.mark.parametrize("public, name, home", PUBLIC)
def test_what_competition_files_import_stays_where_it_was(public, name, home):
    assert getattr(importlib.import_module(public), name) is getattr(importlib.import_module(home), name)


def test_the_readme_names_the_public_surface_and_its_examples_import_only_it():
    readme = (ROOT / "README.md").read_text()
    surface = {public for public, _, _ in PUBLIC}
    for public in surface:
        assert f"`{public}`" in readme, f"the README does not name {public} as public"
    used = set(re.findall(r"^from ((?:pipelines|features)\.[a-z_.]+) import", readme, re.MULTILINE))
    assert used and used <= surface, used - surface


def test_a_saved_model_of_an_earlier_layout_still_names_a_class():
    """Run folders keep the class paths their skops files were written with: those of the public
    modules still resolve to the same classes."""
    from pipelines.core.persist import refusal, resolved

    for old, new in [("pipelines.members.CatBoostOnFrames", "pipelines.recipes.members.CatBoostOnFrames"),
                     ("features.tabular.ColumnKind", "features.tabular.ColumnKind")]:
        assert refusal(old) is None and resolved(old) is resolved(new)


COMMANDS = ("run", "predict", "tune", "blend", "runs", "package", "download", "submit")


def test_commands_are_entry_points_that_import_no_other_command():
    for command in COMMANDS:
        name = f"pipelines.{command}"
        path = sources()[name]
        assert "def main(" in path.read_text(), name
        others = {f"pipelines.{other}" for other in COMMANDS} - {name}
        assert not imports(path, name) & others, name


def test_an_error_in_the_projects_own_feature_steps_is_not_called_the_competitions():
    """features/ is the project's code: a bug there keeps its traceback instead of being reported as
    an error in the competition's file."""
    from features.tabular import Log1pSkewed
    from pipelines.core.errors import as_code_error

    with pytest.raises(Exception) as raised:
        Log1pSkewed().transform(None)  # never fitted
    assert "features/tabular.py" in "".join(str(entry.path) for entry in raised.traceback)
    assert as_code_error(raised.value) is None
