#!/usr/bin/env python3
"""Regenerate the Inputs/Outputs tables of terraform/modules/*/README.md from variables.tf and outputs.tf.

Usage: python3 terraform/tools/module_docs.py [--check]
Each README keeps its hand-written text; only the part between the markers below is rewritten.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
MODULES = Path(__file__).resolve().parent.parent / "modules"


def blocks(text: str, kind: str) -> list[tuple[str, str]]:
    """(name, body) of every top-level `kind "name" { ... }` block, by brace matching."""
    found = []
    for match in re.finditer(rf'^{kind} "([^"]+)" \{{', text, re.M):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        found.append((match.group(1), text[match.end() : i - 1]))
    return found


def attribute(body: str, name: str) -> str | None:
    """The raw expression of a top-level attribute of a block body (multi-line values included)."""
    lines = body.splitlines()
    for index, line in enumerate(lines):
        heredoc = re.match(rf"^  {name}\s*=\s*<<-?(\w+)\s*$", line)
        if heredoc:
            end = next(j for j in range(index + 1, len(lines)) if lines[j].strip() == heredoc.group(1))
            return " ".join(part.strip() for part in lines[index + 1 : end])
        match = re.match(rf"^  {name}\s*=\s*(.*)$", line)
        if not match:
            continue
        value, depth = [match.group(1)], match.group(1).count("(") + match.group(1).count("{") + match.group(1).count("[")
        depth -= match.group(1).count(")") + match.group(1).count("}") + match.group(1).count("]")
        j = index + 1
        while depth > 0 and j < len(lines):
            value.append(lines[j].strip())
            depth += sum(lines[j].count(c) for c in "({[") - sum(lines[j].count(c) for c in ")}]")
            j += 1
        return " ".join(value)
    return None


def cell(value: str | None) -> str:
    if value is None:
        return "n/a"
    value = re.sub(r"\s+", " ", value).replace("|", "\\|")
    return f"`{value}`"


def description(body: str) -> str:
    raw = attribute(body, "description") or ""
    if raw.startswith('"') and raw.endswith('"'):
        raw = raw[1:-1].replace('\\"', '"')
    return raw.replace("|", "\\|")


def render(module: Path) -> str:
    variables = blocks((module / "variables.tf").read_text(), "variable")
    outputs = blocks((module / "outputs.tf").read_text(), "output")
    rows = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:-:|"]
    for name, body in variables:
        default = attribute(body, "default")
        required = "yes" if default is None else "no"
        rows.append(f"| `{name}` | {description(body)} | {cell(attribute(body, 'type'))} | {cell(default) if default is not None else ''} | {required} |")
    rows += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    rows += [f"| `{name}` | {description(body)}{' (sensitive)' if 'sensitive   = true' in body else ''} |" for name, body in outputs]
    return "\n".join([BEGIN, *rows, END])


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for module in sorted(p for p in MODULES.iterdir() if (p / "variables.tf").exists()):
        readme = module / "README.md"
        text = readme.read_text() if readme.exists() else f"# Module `{module.name}`\n\n{BEGIN}\n{END}\n"
        if BEGIN not in text:
            text = f"{text.rstrip()}\n\n{BEGIN}\n{END}\n"
        head, rest = text.split(BEGIN, 1)
        updated = head + render(module) + rest.split(END, 1)[1]
        if updated != text:
            stale.append(readme)
            if not check:
                readme.write_text(updated)
    if check and stale:
        print("stale module READMEs (run python3 terraform/tools/module_docs.py):", *map(str, stale), sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
