"""Air warnings and water alerts: input -> decision -> lifecycle -> publishing -> delivery.

- :mod:`~pipelines.warnings.job`: the air warning job (forecast file -> area daily AQI).
- :mod:`~pipelines.warnings.water`: the water alert job (QC-valid station readings) and its drill.
- :mod:`~pipelines.warnings.alert_job`: the skeleton both jobs run (ops alerts, areas, publish).
- :mod:`~pipelines.warnings.reports`: :class:`WarnReport`, what one run did.
- :mod:`~pipelines.warnings.store`: the SQLite lifecycle (warnings, decisions, audit, outbox).
- :mod:`~pipelines.warnings.cap`: CAP 1.2 XML and JSON renderings of a message.
- :mod:`~pipelines.warnings.publish`: CAP files, JSON feed and bulletin on disk; delivery.
- :mod:`~pipelines.warnings.bulletin`: the bilingual HTML bulletin.
- :mod:`~pipelines.warnings.outbox`: webhook delivery with retries.
- :mod:`~pipelines.warnings.replay`: the warning job replayed day by day, scored.

The warning files' schema is :mod:`pipelines.config.warnings`; the pure rules are in
:mod:`features.warnings`.
"""
