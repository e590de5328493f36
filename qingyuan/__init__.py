"""Qingyuan (清源): open pollution monitoring, forecasting, source tracing and early warning."""

__version__ = "0.1.0"
