"""Pure warning logic: no file is read or written here.

- :mod:`~features.warnings.rules`: air levels from a probabilistic daily-AQI forecast; lifecycle steps.
- :mod:`~features.warnings.water`: water alert levels from observed readings.
- :mod:`~features.warnings.outlook`: an area's stations, area-mean forecasts and driver values.
- :mod:`~features.warnings.verification`: episode-level scoring of a replay.
"""
