"""docs/INVARIANTS.md defines every invariant the repo cites, and tests cite every one it defines.

Reads the repo's tracked text (code, Terraform, docs, tests): every `I-<n>` cited anywhere is a heading
of docs/INVARIANTS.md, each heading is cited by at least one file under tests/, and the files the
document names exist.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "INVARIANTS.md"
CITATION = re.compile(r"\bI-(\d+)\b")
SUFFIXES = {".py", ".tf", ".hcl", ".md", ".json", ".toml", ".txt", ".yaml", ".yml", ".sh", ""}


def _defined() -> list[str]:
    return re.findall(r"^## (I-\d+) — ", DOC.read_text(encoding="utf-8"), re.M)


def _tracked() -> list[Path]:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [ROOT / name for name in listed if Path(name).suffix in SUFFIXES and (ROOT / name).is_file()]


def _citations() -> dict[str, set[str]]:
    """id -> the files (relative) citing it, the document itself left out."""
    cited: dict[str, set[str]] = {}
    for path in _tracked():
        if path == DOC:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number in CITATION.findall(text):
            cited.setdefault(f"I-{number}", set()).add(path.relative_to(ROOT).as_posix())
    return cited


def test_the_document_defines_each_invariant_once_in_order() -> None:
    defined = _defined()
    assert defined == [f"I-{n}" for n in range(1, len(defined) + 1)]
    assert len(defined) >= 9


def test_every_cited_invariant_is_defined() -> None:
    cited = _citations()
    assert cited, "no citations found: the scan is broken"
    undefined = {key: sorted(files)[:3] for key, files in cited.items() if key not in _defined()}
    assert undefined == {}


def test_every_defined_invariant_is_cited_by_a_test() -> None:
    cited = _citations()
    untested = [key for key in _defined() if not any(f.startswith("tests/") for f in cited.get(key, ()))]
    assert untested == []


def test_the_files_the_document_names_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = set(
        re.findall(r"`((?:tests|terraform|localstack)/[\w./-]+|[a-z_]+/[\w/]+\.py|[a-z_]+\.py)`", text)
    )
    assert named, "the document names no file: the pattern is broken"
    missing = []
    for name in sorted(named):
        candidates = [ROOT / name, ROOT / "lambda_src" / "fairshare" / name, ROOT / "lambda_src" / name]
        if not any(c.exists() for c in candidates):
            missing.append(name)
    assert missing == []


def test_the_readme_points_to_the_document() -> None:
    assert "docs/INVARIANTS.md" in (ROOT / "README.md").read_text(encoding="utf-8")
