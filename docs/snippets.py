"""Run the Python examples in README.md and docs/*.md, and check what they print.

    python docs/snippets.py             # check every file; exit 1 on a mismatch
    python docs/snippets.py --update    # rewrite the output blocks with the real output
    python docs/snippets.py docs/how-it-works.md    # just one file

A file's ```python blocks are joined, in order, into one script, which runs in
a fresh temporary directory as `example.py` (symdiff reads functions from
their source file, so the code must live in a real file, not a string).
Printed output that the docs show is fenced between two markers:

    <!-- output -->
    ```text
    ...exactly what the code above printed since the previous marker...
    ```
    <!-- /output -->

One fenced block per marked region; its language tag is free (`python` for
generated source, `text` otherwise), and blocks inside a region are output,
never run. The temporary directory is stripped from the output, so file names
print as `example.py`. Files containing `<!-- snippets: not run -->` (such as
the generated derivative table, whose code blocks are rule definitions) are
skipped, also when named on the command line. tests/test_docs.py calls `check()` for every file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)\s*$")
OPEN, CLOSE = "<!-- output -->", "<!-- /output -->"
SKIP = "<!-- snippets: not run -->"
SENTINEL = "@@symdiff-docs-output-{}@@"


@dataclass
class Block:
    lang: str
    code: str
    start: int  # line index of the first content line
    stop: int  # line index of the closing fence
    output: bool  # inside an output region


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, marking those inside output regions."""
    lines = text.splitlines()
    found, inside, k = [], False, 0
    while k < len(lines):
        line = lines[k].strip()
        if line == OPEN:
            inside = True
        elif line == CLOSE:
            inside = False
        match = FENCE.match(lines[k])
        if match and match.group(1):
            end = next(j for j in range(k + 1, len(lines)) if lines[j].strip() == "```")
            found.append(Block(match.group(1), "\n".join(lines[k + 1 : end]), k + 1, end, inside))
            k = end
        k += 1
    return found


def script(items: list[Block]) -> tuple[str, list[Block]]:
    """The program to run, and the output blocks in the order their sentinels print."""
    parts, outputs = [], []
    for block in items:
        if block.output:
            parts.append(f"print('\\n{SENTINEL.format(len(outputs))}', flush=True)")
            outputs.append(block)
        elif block.lang == "python":
            parts.append(block.code)
    return "\n".join(parts) + "\n", outputs


def run(path: Path, timeout: float = 120) -> tuple[list[Block], list[str], subprocess.CompletedProcess]:
    """Run a file's examples; return its output blocks and the text printed before each."""
    program, outputs = script(blocks(path.read_text(encoding="utf-8")))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = os.path.realpath(tmp)
        Path(tmp, "example.py").write_text(program, encoding="utf-8")
        env = dict(os.environ, PYTHONHASHSEED="0")
        done = subprocess.run(
            [sys.executable, "example.py"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    stdout = done.stdout.replace(tmp + os.sep, "")
    segments = []
    for k in range(len(outputs)):
        before, _, stdout = stdout.partition("\n" + SENTINEL.format(k) + "\n")
        segments.append(_normalise(before))
    return outputs, segments, done


def check(path: Path) -> list[str]:
    """Problems with a file's examples: a failing run or output that differs from the docs."""
    if SKIP in path.read_text(encoding="utf-8"):
        return []
    outputs, segments, done = run(path)
    if done.returncode != 0:
        return [f"{path}: the examples exit with status {done.returncode}:\n{done.stderr[-3000:]}"]
    problems = []
    for block, actual in zip(outputs, segments):
        expected = _normalise(block.code)
        if expected != actual:
            problems.append(
                f"{path}:{block.start}: the output shown differs from the real output "
                f"(regenerate with: python docs/snippets.py --update {path.name}).\n"
                f"--- shown ---\n{expected}\n--- real ---\n{actual}"
            )
    return problems


def update(path: Path) -> bool:
    """Rewrite the output blocks of `path` with the real output; False if the run failed."""
    outputs, segments, done = run(path)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return False
    lines = path.read_text(encoding="utf-8").splitlines()
    for block, actual in reversed(list(zip(outputs, segments))):
        lines[block.start : block.stop] = actual.split("\n") if actual else []
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True


def documented_files() -> list[Path]:
    """README.md and docs/*.md that contain Python examples to run."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [
        f for f in files if "```python" in f.read_text(encoding="utf-8") and SKIP not in f.read_text(encoding="utf-8")
    ]


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("--")]
    files = [_resolve(n) for n in names] or documented_files()
    failed = False
    for path in files:
        if SKIP in path.read_text(encoding="utf-8"):  # named on the command line, but marked not run
            print(f"skipped {_shown(path)}: it is marked {SKIP}, its examples are not run")
        elif "--update" in argv:
            ok = update(path)
            failed |= not ok
            print(f"{'updated' if ok else 'not updated (its examples failed)'} {_shown(path)}")
        else:
            problems = check(path)
            failed |= bool(problems)
            print("\n".join(problems) or f"ok {_shown(path)}")
    return 1 if failed else 0


def _shown(path: Path) -> str:
    """`path` relative to the repository, as the messages name it (as given when outside it)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _normalise(text: str) -> str:
    """Trailing spaces and trailing blank lines do not count (editors strip them)."""
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip("\n")


def _resolve(name: str) -> Path:
    for candidate in (Path(name), ROOT / name, ROOT / "docs" / name):
        if candidate.exists():
            return candidate.resolve()
    raise SystemExit(f"no such file: {name}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
