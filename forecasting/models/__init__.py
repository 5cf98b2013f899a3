"""Forecasting methods on one shared backbone; build one with :func:`build_method`."""

from forecasting.models.base import ForecastMethod, available_methods, build_method

__all__ = ["ForecastMethod", "available_methods", "build_method"]
