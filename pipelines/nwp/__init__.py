"""Weather-forecast (NWP) feeds: readers (GRIB2, CF netCDF, point tables) and the forecast store.

- :mod:`~pipelines.config.nwp`: ``configs/nwp.yml`` (NWP parameter -> registry variable);
- :mod:`~pipelines.nwp.runs`: the in-memory run forms and grid -> station interpolation;
- :mod:`~pipelines.nwp.grib`, :mod:`~pipelines.nwp.cf_netcdf`, :mod:`~pipelines.nwp.points`:
  one reader per format;
- :mod:`~pipelines.nwp.store`: the CF forecast store, :func:`ingest_nwp` and the leak-safe
  accessors :func:`runs_visible_at` / :func:`valid_time_features`.
"""

# ecCodes runs in a worker process (pipelines.nwp.eccodes_worker), so the readers and writers of
# this package never load it here. Code that imports eccodes itself in this process still can:
# the NWP tests do (fixture files, hashes). ecCodes' wheels (eckitlib) bundle libsqlite3 3.26,
# which, loaded first, becomes the sqlite3 module's library, and MLflow's SQL store refuses it
# (needs >= 3.31). Load the system sqlite3 first; drop this once nothing imports eccodes in-process.
import sqlite3  # noqa: E402, F401
