"""Help text for ``heatnet schema``, rendered from the schema files."""

from __future__ import annotations

import textwrap

from heatnet.inputs.schema import ColumnSpec, TableSchema, load_schemas


def _rule(spec: ColumnSpec) -> str:
    parts = [
        spec.value_type
        if spec.value_type != "any"
        else "/".join(t for t in spec.types if t != "null")
    ]
    if spec.nullable:
        parts.append("nullable")
    if spec.unit:
        parts.append(spec.unit)
    for word, value in (
        ("≥", spec.minimum),
        (">", spec.exclusive_minimum),
        ("≤", spec.maximum),
        ("<", spec.exclusive_maximum),
    ):
        if value is not None:
            parts.append(f"{word} {value:g}")
    if spec.enum:
        parts.append("one of " + "|".join(spec.enum))
    if spec.has_default:
        parts.append(f"default {spec.default!r}" if spec.default is not None else "default null")
    if spec.references:
        parts.append(f"→ {'.'.join(spec.references)}")
    if spec.geometry:
        parts = ["geometry: " + "|".join(spec.geometry)]
    if spec.baked:
        parts.append("baked into a saved problem")
    return ", ".join(parts)


def _columns(title: str, specs: list[ColumnSpec], required: tuple[str, ...]) -> list[str]:
    lines = ["", title]
    for spec in specs:
        mark = " (required)" if spec.name in required else ""
        lines.append(f"  {spec.name}{mark}  [{_rule(spec)}]")
        text = spec.description
        if spec.baked:
            text += f" Baked into a saved problem ({spec.baked}): 'heatnet solve --set' refuses it."
        lines += textwrap.wrap(text, 96, initial_indent="      ", subsequent_indent="      ")
    return lines


def describe_schema(name: str, *, output: bool = False) -> str | None:
    """Describe one table (and, for ``parameters``, every key), or ``None`` if unknown."""
    schemas = load_schemas()
    table: TableSchema | None = (schemas.outputs if output else schemas.inputs).get(name)
    if table is None:
        return None
    role = "output" if output else "input"
    lines = [f"{table.name} ({role} {table.kind})", *textwrap.wrap(table.description, 100)]
    lines += _columns("Columns:", list(table.columns.values()), table.required)
    if table.parameters:
        lines += _columns(
            "Parameters (keys of the parameter column):", list(table.parameters.values()), ()
        )
    lines.append(
        f"\nSchema file: {schemas.directory / (name + ('.output' if output and name in schemas.inputs else '') + '.schema.json')}"
    )
    return "\n".join(lines)


def list_schemas() -> str:
    """One line per input and output table."""
    schemas = load_schemas()
    lines = ["Input tables (heatnet schema TABLE):"]
    lines += [
        f"  {t.name:<18} {t.kind:<6} {t.description.split('.')[0]}" for t in schemas.inputs.values()
    ]
    lines.append("Output tables (heatnet schema TABLE --output):")
    lines += [
        f"  {t.name:<18} {t.kind:<6} {t.description.split('.')[0]}"
        for t in schemas.outputs.values()
    ]
    return "\n".join(lines)
