"""Weather-forecast (NWP) feeds: readers (GRIB2, CF netCDF, point tables) and the forecast store.

- :mod:`~pipelines.config.nwp`: ``configs/nwp.yml`` (NWP parameter -> registry variable);
- :mod:`~pipelines.nwp.runs`: the in-memory run forms and grid -> station interpolation;
- :mod:`~pipelines.nwp.grib`, :mod:`~pipelines.nwp.cf_netcdf`, :mod:`~pipelines.nwp.points`:
  one reader per format;
- :mod:`~pipelines.nwp.store`: the CF forecast store, :func:`ingest_nwp` and the leak-safe
  accessors :func:`runs_visible_at` / :func:`valid_time_features`.
"""
