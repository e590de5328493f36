"""Prefect flows and all I/O: configuration loading, source adapters, the station store, publishing."""
