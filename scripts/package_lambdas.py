#!/usr/bin/env python3
"""Build `.build/lambda/fairshare.zip`: the runtime package `fairshare`, all of it (the tools live in
`fairshare_tools`, which never ships), plus its runtime dependencies.

- Dependencies come from `lambda_src/requirements.txt`, installed for the Lambda runtime
  (manylinux2014_x86_64, CPython 3.12, wheels only) into a cache folder keyed by the requirements'
  hash; boto3, botocore and s3transfer are left out, the runtime ships them.
- The zip is reproducible: entries in sorted order, fixed timestamps and permissions, no bytecode.
- A stamp holds the hash of every input; when nothing changed the build is skipped.
Prints the zip's path, size and sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lambda_src" / "fairshare"
REQUIREMENTS = ROOT / "lambda_src" / "requirements.txt"
OUT_DIR = ROOT / ".build" / "lambda"
ZIP_PATH = OUT_DIR / "fairshare.zip"
STAMP_PATH = OUT_DIR / "fairshare.zip.stamp"

PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.12"
# Shipped by the Lambda runtime; bundling them would add ~30 MB and shadow the runtime's copies.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
BUILD_FORMAT = "2"  # bump when the layout of the zip changes


def _source_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(PACKAGE)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix in (".pyc", ".pyo"):
            continue
        files.append(path)
    return files


def _digest(paths: list[Path], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _install_dependencies(requirements_hash: str) -> Path:
    """Install the runtime dependencies once per requirements content; reuse the folder after."""
    site = OUT_DIR / f"site-{requirements_hash[:16]}"
    if (site / ".complete").exists():
        return site
    shutil.rmtree(site, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix="site-", dir=OUT_DIR))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--platform",
        PLATFORM,
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "--target",
        str(staging),
        "-r",
        str(REQUIREMENTS),
    ]
    subprocess.run(command, check=True)
    for entry in list(staging.iterdir()):
        distribution = entry.name.split("-", 1)[0].lower()  # "botocore" and "botocore-1.44.5.dist-info"
        if distribution in RUNTIME_PROVIDED or entry.name == "bin":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in staging.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    (staging / ".complete").write_text(requirements_hash)
    staging.rename(site)
    return site


def _entries(site: Path) -> list[tuple[str, Path]]:
    entries = [(f"fairshare/{p.relative_to(PACKAGE).as_posix()}", p) for p in _source_files()]
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site)
        if path.is_file() and path.name != ".complete" and "__pycache__" not in relative.parts:
            entries.append((relative.as_posix(), path))
    return sorted(entries)


def _write_zip(entries: list[tuple[str, Path]], target: Path) -> None:
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(target)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(force: bool = False) -> dict[str, object]:
    started = time.monotonic()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    requirements_hash = _digest([REQUIREMENTS], f"{PLATFORM}/{PYTHON_VERSION}/{RUNTIME_PROVIDED}")
    inputs = _digest(_source_files(), f"{BUILD_FORMAT}/{requirements_hash}")
    if not force and ZIP_PATH.exists() and STAMP_PATH.exists():
        stamp = json.loads(STAMP_PATH.read_text())
        if stamp.get("inputs") == inputs and stamp.get("sha256") == _sha256(ZIP_PATH):
            return {
                **stamp,
                "path": str(ZIP_PATH),
                "built": False,
                "seconds": round(time.monotonic() - started, 2),
            }
    site = _install_dependencies(requirements_hash)
    _write_zip(_entries(site), ZIP_PATH)
    result: dict[str, object] = {
        "inputs": inputs,
        "sha256": _sha256(ZIP_PATH),
        "size": ZIP_PATH.stat().st_size,
    }
    STAMP_PATH.write_text(json.dumps(result, indent=2) + "\n")
    return {**result, "path": str(ZIP_PATH), "built": True, "seconds": round(time.monotonic() - started, 2)}


def check(python: str) -> None:
    """Import every handler from the unpacked zip with the runtime's Python (boto3 from this venv,
    as the Lambda runtime provides it). Raises if an import fails."""
    import boto3
    import botocore
    import s3transfer

    with tempfile.TemporaryDirectory(prefix="lambda-check-") as folder:
        unpacked, provided = Path(folder) / "task", Path(folder) / "runtime"
        provided.mkdir()
        with zipfile.ZipFile(ZIP_PATH) as archive:
            archive.extractall(unpacked)
        for module in (boto3, botocore, s3transfer):
            (provided / module.__name__).symlink_to(Path(module.__file__ or "").parent)
        code = (
            f"import sys, importlib; sys.path[:0] = [{str(unpacked)!r}, {str(provided)!r}]; "
            "[importlib.import_module(f'fairshare.handlers.{name}').handler "
            "for name in ('api', 'dispatcher', 'completion', 'redrive')]; "
            "print('handlers import on Python', sys.version.split()[0])"
        )
        env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}
        subprocess.run([python, "-I", "-c", code], check=True, env=env, cwd=folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--force", action="store_true", help="rebuild even when no input changed")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--check", metavar="PYTHON", help="then import every handler from the zip with this Python 3.12"
    )
    args = parser.parse_args(argv)
    result = build(force=args.force)
    if args.check:
        check(args.check)
    if args.json:
        print(json.dumps(result))
    else:
        state = "built" if result["built"] else "unchanged"
        size_mb = int(str(result["size"])) / 1_048_576
        print(f"{result['path']}  {size_mb:.1f} MiB ({result['size']} bytes)")
        print(f"sha256 {result['sha256']}  ({state} in {result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
