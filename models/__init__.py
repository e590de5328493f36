"""Forecasters, source attribution, evaluation metrics and MLflow glue.

Forecasting models arrive with issue #3 and source attribution with issue #5; this package is the
place the user's layout reserves for them.
"""
