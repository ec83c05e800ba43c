"""The Lambda zip is reproducible: same inputs, same bytes, whatever the files' times."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import zipfile
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "package_lambdas.py"


def _packager() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_lambdas", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_same_inputs_give_the_same_zip_bytes(tmp_path: Path) -> None:
    packager = _packager()
    (tmp_path / "b.py").write_text("B = 2\n")
    (tmp_path / "a.py").write_text("A = 1\n")
    entries = [("pkg/b.py", tmp_path / "b.py"), ("pkg/a.py", tmp_path / "a.py")]
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"

    packager._write_zip(sorted(entries), first)
    os.utime(tmp_path / "a.py", (1_000_000_000, 1_000_000_000))
    packager._write_zip(sorted(entries), second)

    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["pkg/a.py", "pkg/b.py"]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_the_zip_leaves_out_bytecode_tests_doubles_and_operator_tools() -> None:
    names = {str(p.relative_to(SCRIPT.parents[1] / "lambda_src")) for p in _packager()._source_files()}

    assert "fairshare/handlers/api.py" in names
    assert "fairshare/domain/admission.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith("fairshare_tools/") for n in names)  # the tools never ship
    assert "fairshare/wiring.py" in names and "fairshare/services/lifecycle.py" in names


def test_the_runtime_package_never_imports_the_tools() -> None:
    """What ships must run without what does not: no module of `fairshare` imports `fairshare_tools`."""
    runtime = SCRIPT.parents[1] / "lambda_src" / "fairshare"
    importing = [
        str(path.relative_to(runtime))
        for path in sorted(runtime.rglob("*.py"))
        if re.search(r"^\s*(from|import)\s+fairshare_tools\b", path.read_text(), re.M)
    ]
    assert importing == []
