"""What every stage shares: errors and exit codes, issues, units, progress, atomic writes.

- :mod:`heatnet.core.errors`: the exception hierarchy, each error with its exit code;
- :mod:`heatnet.core.exits`: the one exit-code table and the state → exit-code function;
- :mod:`heatnet.core.issues`: problems found along the way, as plain records;
- :mod:`heatnet.core.units`: unit conventions;
- :mod:`heatnet.core.progress`: progress reports the library sends (it never prints);
- :mod:`heatnet.core.atomic`: write a file into a temporary beside the target, then publish it.

Nothing here imports pandas, GDAL or Pyomo.
"""
