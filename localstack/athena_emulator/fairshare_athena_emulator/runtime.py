"""One emulator process: settings, an engine per account and region, the scheduler thread, the admin API."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fairshare_athena_emulator.catalog import parse_catalog
from fairshare_athena_emulator.engine import AthenaEngine
from fairshare_athena_emulator.ports import Clock, EventSink, MetricSink, ObjectStore, SystemClock
from fairshare_athena_emulator.settings import EmulatorSettings, SettingsError

LOG = logging.getLogger(__name__)

ADMIN_PREFIX = "/_fairshare/athena"
PortsFactory = Callable[[str, str], tuple[ObjectStore, EventSink, MetricSink]]
_MAX_SLEEP_SECONDS = 0.5


class EmulatorRuntime:
    def __init__(
        self, settings: EmulatorSettings, ports_factory: PortsFactory, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self._ports_factory = ports_factory
        self._clock = clock or SystemClock()
        self._engines: dict[tuple[str, str], AthenaEngine] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._woken = False  # set by wake(), so a wake-up during a scheduler pass is not lost
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: ThreadPoolExecutor | None = None
        self._publisher: ThreadPoolExecutor | None = None
        self._metrics_publisher: ThreadPoolExecutor | None = None

    def engine(self, account_id: str, region: str) -> AthenaEngine:
        key = (account_id, region)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                store, events, metrics = self._ports_factory(account_id, region)
                engine = AthenaEngine(
                    account_id,
                    region,
                    self.settings,
                    self._clock,
                    store,
                    events,
                    metrics,
                    on_change=self.wake,
                    run_in_background=self._submit,
                    publish_in_order=self._publish,
                    publish_metrics=self._publish_metric_data,
                )
                self._engines[key] = engine
        self.start()
        return engine

    def engines(self) -> list[AthenaEngine]:
        with self._lock:
            return list(self._engines.values())

    # ----------------------------------------------------------------------------------- scheduler thread
    def _submit(self, work: Callable[[], None]) -> object:
        with self._lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(
                    max_workers=self.settings.query_workers, thread_name_prefix="athena-emulator-query"
                )
            return self._workers.submit(work)

    def _publish(self, delivery: Callable[[], None]) -> Future[None]:
        with self._lock:
            if self._publisher is None:
                self._publisher = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="athena-emulator-publish"
                )
            return self._publisher.submit(delivery)

    def _publish_metric_data(self, delivery: Callable[[], None]) -> object:
        with self._lock:
            if self._metrics_publisher is None:
                self._metrics_publisher = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="athena-emulator-metrics"
                )
            return self._metrics_publisher.submit(delivery)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopped.clear()
            self._thread = threading.Thread(target=self._loop, name="athena-emulator-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            workers, self._workers = self._workers, None
            publisher, self._publisher = self._publisher, None
            metrics_publisher, self._metrics_publisher = self._metrics_publisher, None
        self._stopped.set()
        self.wake()
        if thread is not None:
            thread.join(timeout=5)
        # Never block a shutdown on I/O: LocalStack stops its gateway at the same time.
        for pool in (workers, publisher, metrics_publisher):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            deadlines = []
            for engine in self.engines():
                try:
                    deadline = engine.run_due()
                except Exception:
                    LOG.exception("the Athena emulator scheduler failed a pass")
                    deadline = None
                if deadline is not None:
                    deadlines.append(deadline)
            sleep = _MAX_SLEEP_SECONDS
            if deadlines:
                sleep = max(0.0, min(sleep, min(deadlines) - self._clock.time()))
            with self._wake:
                if not self._stopped.is_set() and sleep > 0 and not self._woken:
                    self._wake.wait(timeout=sleep)
                self._woken = False

    # ----------------------------------------------------------------------------------- admin API
    def admin(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """`/_fairshare/athena/{config,state,published,catalog,reset}`; answers (HTTP status, JSON)."""
        route = path[len(ADMIN_PREFIX) :].strip("/") if path.startswith(ADMIN_PREFIX) else None
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return 400, {"error": "the body is not JSON"}
        try:
            if route == "config" and method == "GET":
                return 200, self.settings.as_dict()
            if route == "config" and method == "POST":
                self.settings.update(payload)
                self.wake()
                return 200, self.settings.as_dict()
            if route == "catalog" and method == "GET":
                return 200, self.settings.as_dict()["catalog"]
            if route == "catalog" and method in ("POST", "PUT"):
                tables = parse_catalog(payload)
                merged = tables if method == "PUT" else {**self.settings.catalog, **tables}
                self.settings.update({"catalog": {name: spec.as_dict() for name, spec in merged.items()}})
                return 200, self.settings.as_dict()["catalog"]
            if route == "state" and method == "GET":
                return 200, self.state()
            if route == "published" and method == "GET":
                return 200, {"events": [e for engine in self.engines() for e in engine.published_events()]}
            if route == "reset" and method == "POST":
                with self._lock:
                    self._engines.clear()
                return 200, self.state()
        except (SettingsError, ValueError) as exc:
            return 400, {"error": str(exc)}
        return 404, {"error": f"no admin route {method} {path}"}

    def state(self) -> dict[str, Any]:
        active = {"DML": 0, "DDL": 0}
        throttled = {"DML": 0, "DDL": 0}
        regions: list[dict[str, Any]] = []
        for engine in self.engines():
            counts = engine.active_counts()
            refused = engine.throttled_counts()
            regions.append(
                {
                    "account_id": engine.account_id,
                    "region": engine.region,
                    "active": counts,
                    "throttled": refused,
                }
            )
            for pool, count in counts.items():
                active[pool] += count
                throttled[pool] += refused[pool]
        return {
            "quota": {"DML": self.settings.dml_quota, "DDL": self.settings.ddl_quota},
            "active": active,
            "throttled": throttled,
            "regions": regions,
            "events_enabled": self.settings.events_enabled,
        }
