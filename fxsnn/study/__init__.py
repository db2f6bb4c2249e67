"""Studies: many training runs described by one sweep file, run on Dask, each analysed and recorded.

- :mod:`~fxsnn.study.plan`: sweep files (TOML) and their expansion into runs;
- :mod:`~fxsnn.study.identity`: content-hashed run ids;
- :mod:`~fxsnn.study.activity`: firing rates and Van Rossum distances of a network on samples;
- :mod:`~fxsnn.study.run_analysis`: a run's ``analysis.json`` (accuracy, rates, VRD before and after);
- :mod:`~fxsnn.study.worker`: what a Dask worker does for one run (data cached per worker process);
- :mod:`~fxsnn.study.records`: the sweep folder: run folders that appear only when complete, failures,
  ``sweep.json``;
- :mod:`~fxsnn.study.results`: ``results.csv``, rebuilt from the run folders;
- :mod:`~fxsnn.study.cluster`: the Dask cluster (a local one, or an existing scheduler);
- :mod:`~fxsnn.study.runner`: the sweep itself (resume, failures, progress).
"""
