"""Many scenarios at once (``heatnet batch``): the scenarios file and its run over Dask.

- :mod:`~heatnet.batch.scenarios`: read the scenarios file and its sweeps;
- :func:`heatnet.batch.runner.run_batch`: run them, write a manifest and a summary.

Submodules are imported where needed (Dask is heavy; this package's import is light).
"""
