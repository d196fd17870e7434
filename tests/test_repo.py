"""The promises README.md makes about setting up and testing hold."""

import json
import re
import subprocess
import sys

from conftest import ROOT


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_starts_with_the_app_and_the_test_command():
    app, tests = _readme_commands()[:2]
    assert app.endswith("streamlit run app.py") and app.startswith("scripts/setup.sh")
    assert "pytest" in tests and tests.startswith("scripts/setup.sh --dev")


def test_ci_runs_exactly_the_readme_test_command():
    tests = _readme_commands()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci_lines


# Imports every module of the packages named in argv (not __main__, which runs the CLI) in a
# fresh interpreter and prints which top-level packages that loaded.
_IMPORT_ALL = """
import importlib, json, pkgutil, sys
for package in sys.argv[1:]:
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name != "__main__":
            importlib.import_module(f"{package}.{module.name}")
print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))
"""


def _loaded_by_importing(*packages: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", _IMPORT_ALL, *packages], capture_output=True, text=True,
                         cwd=ROOT, check=True, timeout=120)
    return set(json.loads(out.stdout))


def test_the_engine_and_the_page_helpers_never_load_streamlit():
    """The import graph, not the text: `from streamlit import x` or a helper that imports
    streamlit would load it here."""
    loaded = _loaded_by_importing("lmcore", "explorer")
    assert {"lmcore", "explorer", "torch"} <= loaded  # it did import them
    assert "streamlit" not in loaded


def test_the_engine_never_loads_the_app_packages():
    loaded = _loaded_by_importing("lmcore")
    assert "explorer" not in loaded and "ui" not in loaded and "streamlit" not in loaded


def test_no_engine_module_imports_the_app_even_inside_a_function():
    """Importing every module cannot see an import a function makes when called (`lmcore bench
    --reading` once imported explorer that way): read every import statement instead."""
    import ast

    found = []
    for path in sorted((ROOT / "lmcore").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{path.name}: {name}" for name in names if name.split(".")[0] in ("explorer", "ui", "streamlit")]
    assert found == []


def test_every_test_the_docs_name_exists():
    """docs/bad-inputs.md (and the other docs) say which test holds each claim: a renamed test
    must not leave a claim unheld."""
    named = set()
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        named |= set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", doc.read_text()))
    assert len(named) > 50
    missing = [f"{path}::{name}" for path, name in sorted(named)
               if not re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(), re.M)]
    assert not missing, missing
