"""The promises README.md makes about setting up and testing hold."""

import re
import subprocess

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


def test_lmcore_never_imports_streamlit():
    found = subprocess.run(["grep", "-rn", "streamlit", str(ROOT / "lmcore"), "--include=*.py"],
                           capture_output=True, text=True).stdout
    assert "import streamlit" not in found
