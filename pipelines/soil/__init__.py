"""Soil environment data (issue #18): read, check, store, assess and map sampling campaigns.

- :mod:`~pipelines.soil.sources`: input adapters (long CSV, the Meuse survey) -> rows.
- :mod:`~pipelines.soil.ingest`: row checks (analyte, unit, detection limit, pH, coordinates,
  duplicates) -> stored rows and quarantine records.
- :mod:`~pipelines.soil.store`: the soil store, one CF point netCDF per network and campaign.
- :mod:`~pipelines.soil.assess`: classes and indices against GB 15618 / GB 36600.
- :mod:`~pipelines.soil.maps`: kriged maps, exceedance probability, cross-validation.
- :mod:`~pipelines.soil.jobs`: ``ingest``, ``assess``, ``map`` and the ``qingyuan run`` step.
"""
