"""Metrics as CloudWatch EMF through Powertools (namespace AthenaFairshare, dimension stage)."""

from __future__ import annotations

from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

_UNITS = {unit.value: unit for unit in MetricUnit}


class EmfMetrics:
    """Implements `fairshare.ports.Metrics`. Stage-only metrics batch on the handler's Metrics
    object (flushed by `log_metrics`); metrics with more dimensions go out one by one."""

    def __init__(self, metrics: PowertoolsMetrics, stage: str, namespace: str) -> None:
        self._metrics = metrics
        self._stage = stage
        self._namespace = namespace
        metrics.set_default_dimensions(stage=stage)

    def emit(self, name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
        metric_unit = _UNITS.get(unit, MetricUnit.Count)
        if not dimensions:
            self._metrics.add_metric(name=name, unit=metric_unit, value=value)
            return
        with single_metric(
            name=name,
            unit=metric_unit,
            value=value,
            namespace=self._namespace,
            default_dimensions={"stage": self._stage},
        ) as metric:
            for key, dim in sorted(dimensions.items()):
                metric.add_dimension(name=key, value=dim)
