"""Weather-forecast (NWP) feeds: readers (GRIB2, CF netCDF, point tables) and the forecast store.

- :mod:`~pipelines.config.nwp`: ``configs/nwp.yml`` (NWP parameter -> registry variable);
- :mod:`~pipelines.nwp.runs`: the in-memory run forms and grid -> station interpolation;
- :mod:`~pipelines.nwp.grib`, :mod:`~pipelines.nwp.cf_netcdf`, :mod:`~pipelines.nwp.points`:
  one reader per format;
- :mod:`~pipelines.nwp.store`: the CF forecast store, :func:`ingest_nwp` and the leak-safe
  accessors :func:`runs_visible_at` / :func:`valid_time_features`.
"""

# ecCodes' binary wheels (eckitlib) bundle an old libsqlite3 (3.26); loaded first, it would
# become the sqlite3 module's library and MLflow's SQL store refuses it (needs >= 3.31), and the
# two copies crash the interpreter at exit. Load the system sqlite3 before ecCodes can.
import sqlite3  # noqa: E402, F401
