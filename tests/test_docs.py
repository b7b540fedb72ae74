"""The docs stay true: generated pages are current, examples run, shown output is real.

- docs/derivative-table.md must equal what docs/gen_derivative_table.py prints.
- README.md and every docs page with Python examples run (their ```python blocks
  joined into one file, in a temporary directory, in a subprocess), and every
  output block marked `<!-- output -->` must equal what the code printed
  (docs/snippets.py; `python docs/snippets.py --update` regenerates them).
- docs/errors.md has one section, anchored by class name, per error class.
- Relative links between the docs point at files and anchors that exist.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import symdiff.errors

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load_snippets():
    spec = importlib.util.spec_from_file_location("docs_snippets", DOCS / "snippets.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


snippets = _load_snippets()
DOCUMENTED = snippets.documented_files()


def test_derivative_table_is_current():
    done = subprocess.run(
        [sys.executable, str(DOCS / "gen_derivative_table.py"), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    checked_in = (DOCS / "derivative-table.md").read_text(encoding="utf-8")
    assert done.stdout == checked_in, (
        "docs/derivative-table.md is stale; regenerate it with: python docs/gen_derivative_table.py"
    )


def test_readme_and_key_pages_have_runnable_examples():
    names = {path.name for path in DOCUMENTED}
    assert {"README.md", "custom-rules.md", "how-it-works.md", "index.md", "errors.md"} <= names


@pytest.mark.parametrize("path", DOCUMENTED, ids=[p.name for p in DOCUMENTED])
def test_examples_run_and_shown_output_is_real(path):
    problems = snippets.check(path)
    assert not problems, "\n\n".join(problems)


def test_update_skips_a_page_marked_not_run_and_says_when_a_run_fails(tmp_path, capsys):
    # `--update docs/backends.md` ran a page marked not run, failed on its undefined names and
    # still said "updated".
    failing = "```python\nprint(undefined_name)\n```\n"
    marked = tmp_path / "marked.md"
    marked.write_text(failing + snippets.SKIP + "\n", encoding="utf-8")
    before = marked.read_text(encoding="utf-8")
    assert snippets.main(["--update", str(marked)]) == 0
    assert marked.read_text(encoding="utf-8") == before
    assert "skipped" in capsys.readouterr().out
    plain = tmp_path / "plain.md"
    plain.write_text(failing, encoding="utf-8")
    assert snippets.main(["--update", str(plain)]) == 1
    assert "not updated" in capsys.readouterr().out


def _error_classes() -> list[str]:
    return sorted(
        name
        for name, value in vars(symdiff.errors).items()
        if isinstance(value, type) and issubclass(value, symdiff.errors.SymdiffError)
    )


def test_every_error_class_has_a_section_anchored_by_its_name():
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="(\w+)"></a>', text))
    headings = set(re.findall(r"^## (\w+)$", text, flags=re.MULTILINE))
    classes = set(_error_classes())
    assert classes <= anchors, f"errors.md lacks anchors for {sorted(classes - anchors)}"
    assert classes <= headings, f"errors.md lacks sections for {sorted(classes - headings)}"
    assert anchors <= classes, f"errors.md documents classes that do not exist: {sorted(anchors - classes)}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found = set(re.findall(r'<a id="([^"]+)"></a>', text))
    found |= {_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}
    return found


def _links(path: Path):
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # not inside code blocks
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target):
            yield target


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        file_part, _, anchor = target.partition("#")
        destination = (page.parent / file_part).resolve() if file_part else page
        exists = destination.exists()
        if not exists or (anchor and destination.suffix == ".md" and anchor not in _anchors(destination)):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"
