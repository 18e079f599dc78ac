"""Stage 1, inputs: read a GeoPackage exactly as stored and check it against the schemas.

- :func:`heatnet.inputs.load.read_inputs` reads the layers and tables (nothing coerced);
- :func:`heatnet.inputs.validate.check_inputs` types and checks them, every problem at once,
  using the column checks (:mod:`~heatnet.inputs.checker`), the cross-table rules
  (:mod:`~heatnet.inputs.rules`, and :mod:`~heatnet.inputs.dispatch_rules` for the dispatch
  tables), the geometry checks (:mod:`~heatnet.inputs.geometry`) and the
  parameters (:mod:`~heatnet.inputs.params`), all driven by the schema files
  (:mod:`~heatnet.inputs.schema`);
- :func:`heatnet.inputs.findings.render_text` / ``render_json`` print what was found;
- :func:`heatnet.inputs.template.write_template` writes an empty input to fill;
- :mod:`heatnet.inputs.helptext` renders the schemas as help (``heatnet schema``).

Submodules are imported where needed (this package's import is light).
"""
