"""Pure computations: QC checks, air-quality indices, water class, aggregation, gridding.

Nothing in this package reads or writes files, talks to the network or uses Prefect.
"""
