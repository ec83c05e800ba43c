"""The ledger on DynamoDB: the `queries` table (with its sparse GSIs) and the `state` table.

Every transition is a conditional write, most of them one `TransactWriteItems` that moves the query
and its counters together, so a crash between two lines never leaves a counter behind (I-1, I-2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from fairshare.domain.errors import DependencyUnavailable, QueueFull
from fairshare.domain.limits import Room, whole_slots
from fairshare.domain.service import ServiceDecay, ServiceHistory
from fairshare.ports import (
    DuplicateQuery,
    Finalization,
    Page,
    PoolRecord,
    QueryRecord,
    QueryStatus,
    RoundState,
    TenantRecord,
    UnknownQuery,
    queue_key,
    queue_key_prefix,
)

_SER = TypeSerializer()
_DES = TypeDeserializer()
_FIELDS = {f.name for f in dataclasses.fields(QueryRecord)}
_CONDITION_FAILED = "ConditionalCheckFailed"
_MAX_POSITION = 1000


def _av(value: Any) -> dict[str, Any]:
    if isinstance(value, float):
        value = Decimal(repr(value))
    return _SER.serialize(value)  # type: ignore[no-any-return]


def _values(**values: Any) -> dict[str, Any]:
    return {f":{name}": _av(value) for name, value in values.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in item.items():
        value = _DES.deserialize(raw)
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        out[key] = value
    return out


def record_from_item(item: dict[str, Any]) -> QueryRecord:
    plain = _plain(item)
    return QueryRecord(**{k: v for k, v in plain.items() if k in _FIELDS})


# Fair share's state on the tenant item (fairshare.domain.service): deposits per epoch, as
# `served_<epoch>` (slot-seconds), `finished_<epoch>` (completions) and `lifted_<epoch>` (credit of an
# idle tenant's rejoin); `held_ms`, the sum of the claim times of the queries holding a slot;
# `released_ms`, the last release.
_SERVED, _FINISHED, _LIFTED = "served_", "finished_", "lifted_"


def _deposits(item: dict[str, Any], prefix: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for key, value in item.items():
        if key.startswith(prefix) and key[len(prefix) :].lstrip("-").isdigit():
            out[int(key[len(prefix) :])] = float(value)
    return out


def _history(item: dict[str, Any]) -> ServiceHistory:
    return ServiceHistory(
        served=_deposits(item, _SERVED),
        finished=_deposits(item, _FINISHED),
        held_ms=int(item.get("held_ms", 0)),
        released_ms=int(item.get("released_ms", 0)),
        lifted=_deposits(item, _LIFTED),
        claimed_ms=int(item.get("claimed_ms", 0)),
    )


def _cancel_reasons(exc: ClientError) -> list[str]:
    reasons = exc.response.get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]


class DynamoLedger:
    """Implements `fairshare.ports.Ledger`."""

    def __init__(
        self,
        client: Any,
        queries_table: str,
        state_table: str,
        ttl_days: int = 90,
        decay: ServiceDecay | None = None,
    ) -> None:
        self._ddb = client
        self._queries = queries_table
        self._state = state_table
        self._ttl_s = ttl_days * 86_400
        self._decay = decay or ServiceDecay()

    # --- plumbing ---------------------------------------------------------------------------------
    def _call(self, operation: str, **kwargs: Any) -> Any:
        """Call DynamoDB; anything but a condition failure means the ledger is unavailable (503)."""
        try:
            return getattr(self._ddb, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise
            raise DependencyUnavailable(f"ledger {operation} failed: {code}") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"ledger {operation} failed: {type(exc).__name__}") from exc

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run a transaction; None when it committed, else the per-item cancellation reasons."""
        try:
            self._call("transact_write_items", TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return _cancel_reasons(exc) or [_CONDITION_FAILED]
            raise
        return None

    def _update(self, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return self._call("update_item", **kwargs)  # type: ignore[no-any-return]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._call("query", **kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _key(self, pk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}}

    def _tenant_update(
        self, tenant: str, expression: str, condition: str | None = None, **values: Any
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._state,
            "Key": self._key(f"tenant#{tenant}"),
            "UpdateExpression": expression,
        }
        names = {f"#{k}": v for k, v in values.pop("names", {}).items()}
        if names:
            update["ExpressionAttributeNames"] = names
        if values:
            update["ExpressionAttributeValues"] = _values(**values)
        if condition:
            update["ConditionExpression"] = condition
        return {"Update": update}

    def _pool_update(
        self, pool: str, expression: str, condition: str | None = None, **values: Any
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._state,
            "Key": self._key(f"pool#{pool}"),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {"#active": "active"},
        }
        if values:
            update["ExpressionAttributeValues"] = _values(**values)
        if condition:
            update["ConditionExpression"] = condition
        return {"Update": update}

    # --- submissions and reads --------------------------------------------------------------------
    def get(self, query_id: str) -> QueryRecord | None:
        reply = self._call(
            "get_item", TableName=self._queries, Key={"query_id": {"S": query_id}}, ConsistentRead=True
        )
        item = reply.get("Item")
        return record_from_item(item) if item else None

    def by_execution(self, execution_id: str) -> QueryRecord | None:
        # The index projects every attribute, so its item is the record: no second read. It may lag
        # the table; every transition the caller makes is conditional on the status it finds there.
        for item in self._query(
            TableName=self._queries,
            IndexName="execution",
            KeyConditionExpression="athena_execution_id = :e",
            ExpressionAttributeValues=_values(e=execution_id),
        ):
            return record_from_item(item)
        return None

    def submit(self, record: QueryRecord, max_queued: int) -> None:
        item = {k: v for k, v in dataclasses.asdict(record).items() if v is not None}
        item["expires_at"] = record.submitted_at // 1000 + self._ttl_s
        item["queue_tenant"] = record.tenant
        item["queue_key"] = record.queue_key
        reasons = self._transact(
            [
                {
                    "Put": {
                        "TableName": self._queries,
                        "Item": {k: _av(v) for k, v in item.items()},
                        "ConditionExpression": "attribute_not_exists(query_id)",
                    }
                },
                self._tenant_update(
                    record.tenant,
                    "ADD queued :one",
                    "attribute_not_exists(queued) OR queued < :max",
                    one=1,
                    max=max_queued,
                ),
            ]
        )
        if reasons is None:
            return
        if reasons[0] == _CONDITION_FAILED:
            raise DuplicateQuery(record.query_id)
        if len(reasons) > 1 and reasons[1] == _CONDITION_FAILED:
            raise QueueFull(f"tenant {record.tenant} has {max_queued} queries queued (max_queued)")
        raise DependencyUnavailable(f"ledger transaction conflicted: {reasons}")

    def position(self, record: QueryRecord, cap: int = _MAX_POSITION) -> int:
        reply = self._call(
            "query",
            TableName=self._queries,
            IndexName="queued_heads",
            KeyConditionExpression="queue_tenant = :t AND queue_key < :k",
            ExpressionAttributeValues=_values(t=record.tenant, k=record.queue_key),
            Select="COUNT",
            Limit=cap,
        )
        return int(reply.get("Count", 0)) + 1

    def list_for_tenant(
        self, tenant: str, status: str | None, limit: int, start_key: dict[str, Any] | None
    ) -> Page:
        page = Page()
        kwargs: dict[str, Any] = {
            "TableName": self._queries,
            "IndexName": "tenant_time",
            "KeyConditionExpression": "tenant = :t",
            "ExpressionAttributeValues": _values(t=tenant),
            "ScanIndexForward": False,
        }
        if status:
            kwargs["FilterExpression"] = "#s = :s"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"].update(_values(s=status))
        if start_key:
            kwargs["ExclusiveStartKey"] = {k: _av(v) for k, v in start_key.items()}
        while len(page.records) < limit:
            # Limit counts items read before the filter, so a page never overshoots `limit`.
            reply = self._call("query", Limit=limit - len(page.records), **kwargs)
            page.records.extend(record_from_item(i) for i in reply.get("Items", []))
            last = reply.get("LastEvaluatedKey")
            if not last:
                page.last_key = None
                break
            page.last_key = _plain(last)
            kwargs["ExclusiveStartKey"] = last
        return page

    # --- state ------------------------------------------------------------------------------------
    def _batch_get_state(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self._state: {
                    "Keys": [self._key(k) for k in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                reply = self._call("batch_get_item", RequestItems=request)
                for item in reply.get("Responses", {}).get(self._state, []):
                    plain = _plain(item)
                    found[plain["pk"]] = plain
                request = reply.get("UnprocessedKeys") or {}
        return found

    def round_state(self, pools: Sequence[str], tenants: Sequence[str]) -> RoundState:
        items = self._batch_get_state(
            [f"pool#{n}" for n in pools] + [f"tenant#{n}" for n in tenants] + ["rate#start"]
        )
        return RoundState(
            pools=self._pools_from(items, pools),
            tenants=self._tenants_from(items, tenants),
            bucket=self._bucket_from(items.get("rate#start")),
        )

    def tenants(self, names: Sequence[str]) -> dict[str, TenantRecord]:
        return self._tenants_from(self._batch_get_state([f"tenant#{n}" for n in names]), names)

    @staticmethod
    def _tenants_from(items: dict[str, dict[str, Any]], names: Sequence[str]) -> dict[str, TenantRecord]:
        out: dict[str, TenantRecord] = {}
        for name in names:
            item = items.get(f"tenant#{name}", {})
            out[name] = TenantRecord(
                name=name,
                running=int(item.get("running", 0)),
                queued=int(item.get("queued", 0)),
                seq=int(item.get("seq", 0)),
                bytes_day=item.get("bytes_day"),
                bytes_today=int(item.get("bytes_today", 0)),
                service=_history(item),
                waiting_reason=item.get("waiting_reason"),
                waiting_since=float(item["waiting_since"]) if "waiting_since" in item else None,
            )
        return out

    def pools(self, names: Sequence[str]) -> dict[str, PoolRecord]:
        return self._pools_from(self._batch_get_state([f"pool#{n}" for n in names]), names)

    @staticmethod
    def _pools_from(items: dict[str, dict[str, Any]], names: Sequence[str]) -> dict[str, PoolRecord]:
        out: dict[str, PoolRecord] = {}
        for name in names:
            item = items.get(f"pool#{name}", {})
            out[name] = PoolRecord(
                name=name,
                active=int(item.get("active", 0)),
                limit_value=item.get("limit_value"),
                limit_changed_at=item.get("limit_changed_at"),
                last_throttle_at=item.get("last_throttle_at"),
                room=None
                if item.get("room_slots") is None or item.get("room_at") is None
                else Room(
                    int(item["room_slots"]), float(item["room_at"]), bool(item.get("room_binding", True))
                ),
            )
        return out

    def save_limit(
        self,
        pool: str,
        value: float,
        changed_at: float,
        throttled_at: float | None,
        expected_changed_at: float | None,
    ) -> bool:
        expression = "SET limit_value = :v, limit_slots = :slots, limit_changed_at = :c"
        values: dict[str, Any] = {"v": value, "slots": whole_slots(value), "c": changed_at}
        if throttled_at is not None:
            expression += ", last_throttle_at = :t"
            values["t"] = throttled_at
        if expected_changed_at is None:
            condition = "attribute_not_exists(limit_changed_at)"
        else:
            condition = "limit_changed_at = :e"
            values["e"] = expected_changed_at
        if throttled_at is not None:
            # a throttle always lowers the limit, whatever a concurrent recovery wrote
            condition = "attribute_not_exists(limit_value) OR limit_value >= :v"
            values.pop("e", None)
        return (
            self._update(
                TableName=self._state,
                Key=self._key(f"pool#{pool}"),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=_values(**values),
            )
            is not None
        )

    def read_bucket(self) -> tuple[float, float] | None:
        return self._bucket_from(self._batch_get_state(["rate#start"]).get("rate#start"))

    @staticmethod
    def _bucket_from(item: dict[str, Any] | None) -> tuple[float, float] | None:
        if not item or "tokens" not in item:
            return None
        return float(item["tokens"]), float(item["updated_at"])

    def save_bucket(self, tokens: float, updated_at: float, expected: tuple[float, float] | None) -> bool:
        """Optimistic: only if the bucket still holds what was read (tokens and time)."""
        values: dict[str, Any] = {"k": tokens, "u": updated_at}
        if expected is None:
            condition = "attribute_not_exists(updated_at)"
        else:
            condition = "tokens = :et AND updated_at = :eu"
            values["et"], values["eu"] = expected
        return (
            self._update(
                TableName=self._state,
                Key=self._key("rate#start"),
                UpdateExpression="SET tokens = :k, updated_at = :u",
                ConditionExpression=condition,
                ExpressionAttributeValues=_values(**values),
            )
            is not None
        )

    def queued_heads(self, tenant: str, limit: int, priority: int | None = None) -> list[QueryRecord]:
        condition = "queue_tenant = :t"
        values: dict[str, Any] = {"t": tenant}
        if priority is not None:
            condition += " AND begins_with(queue_key, :p)"
            values["p"] = queue_key_prefix(priority)
        reply = self._call(
            "query",
            TableName=self._queries,
            IndexName="queued_heads",
            KeyConditionExpression=condition,
            ExpressionAttributeValues=_values(**values),
            Limit=max(1, limit),
        )
        return [record_from_item(i) for i in reply.get("Items", [])]

    # --- transitions ------------------------------------------------------------------------------
    def _query_update(
        self, query_id: str, expression: str, condition: str, names: dict[str, str], **values: Any
    ) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._queries,
                "Key": {"query_id": {"S": query_id}},
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#s": "status", **names},
                "ExpressionAttributeValues": _values(**values),
            }
        }

    def claim(
        self,
        record: QueryRecord,
        pool: str,
        tenant_cap: int,
        now_ms: int,
        lift_s: float = 0.0,
        lift_since_ms: int | None = None,
    ) -> bool:
        # I-2: the pool's active count may grow only while below its persisted effective limit, in
        # whole slots: `limit_slots` is whole_slots(limit_value); comparing with a fractional limit_value
        # (AIMD makes it 38.5) would admit one query over the limit. Pool items written before
        # `limit_slots` existed fall back to limit_value until their next limit change.
        reasons = self._transact(
            [
                self._query_update(
                    record.query_id,
                    "SET #s = :admitted, active_pool = :pool, admitted_at = :now "
                    "REMOVE queue_tenant, queue_key",
                    "#s = :queued",
                    {},
                    admitted=QueryStatus.ADMITTED,
                    pool=pool,
                    now=now_ms,
                    queued=QueryStatus.QUEUED,
                ),
                self._pool_update(
                    pool,
                    "ADD #active :one",
                    "attribute_exists(limit_value) AND (attribute_not_exists(#active) OR "
                    "(attribute_exists(limit_slots) AND #active < limit_slots) OR "
                    "(attribute_not_exists(limit_slots) AND #active < limit_value))",
                    one=1,
                ),
                self._claim_tenant(record.tenant, tenant_cap, now_ms, lift_s, lift_since_ms),
            ]
        )
        return reasons is None

    def _claim_tenant(
        self, tenant: str, cap: int, now_ms: int, lift_s: float, lift_since_ms: int | None
    ) -> dict[str, Any]:
        """The tenant's side of a claim: running + 1 under its cap, the claim time held and recorded
        as its last. A lift (fair share's rejoin) is added to its service only while no slot has been
        given to it since `lift_since_ms`, so two rounds that both saw it rejoin lift it once."""
        cap_condition = "(attribute_not_exists(running) OR running < :cap)"
        if lift_s <= 0 or lift_since_ms is None:
            return self._tenant_update(
                tenant,
                "ADD running :one, queued :minus, held_ms :now SET claimed_ms = :now",
                cap_condition,
                one=1,
                minus=-1,
                now=now_ms,
                cap=cap,
            )
        epoch, scaled = self._decay.deposit(lift_s, now_ms / 1000)
        return self._tenant_update(
            tenant,
            "ADD running :one, queued :minus, held_ms :now, #lifted :lift SET claimed_ms = :now",
            f"{cap_condition} AND (attribute_not_exists(claimed_ms) OR claimed_ms < :since)",
            one=1,
            minus=-1,
            now=now_ms,
            lift=scaled,
            cap=cap,
            since=lift_since_ms,
            names={"lifted": f"{_LIFTED}{epoch}"},
        )

    def mark_running(self, query_id: str, execution_id: str, now_ms: int) -> bool:
        return (
            self._update(
                TableName=self._queries,
                Key={"query_id": {"S": query_id}},
                UpdateExpression="SET #s = :running, athena_execution_id = :e, started_at = :now",
                ConditionExpression="#s = :admitted",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    running=QueryStatus.RUNNING, e=execution_id, now=now_ms, admitted=QueryStatus.ADMITTED
                ),
            )
            is not None
        )

    def requeue(self, record: QueryRecord, pool: str) -> bool:
        # I-7: back at the head with its original queue key; no attempt is counted.
        reasons = self._transact(
            [
                self._query_update(
                    record.query_id,
                    "SET #s = :queued, queue_tenant = :t, queue_key = :k REMOVE active_pool, admitted_at",
                    "#s = :admitted",
                    {},
                    queued=QueryStatus.QUEUED,
                    t=record.tenant,
                    k=record.queue_key,
                    admitted=QueryStatus.ADMITTED,
                ),
                self._pool_update(pool, "ADD #active :minus", None, minus=-1),
                self._tenant_update(
                    record.tenant,
                    "ADD running :minus, queued :one, held_ms :unheld",
                    None,
                    minus=-1,
                    one=1,
                    unheld=-(record.admitted_at or 0),
                ),
            ]
        )
        return reasons is None

    def add_attempt(self, query_id: str) -> int:
        reply = self._update(
            TableName=self._queries,
            Key={"query_id": {"S": query_id}},
            UpdateExpression="ADD attempts :one",
            ConditionExpression="attribute_exists(query_id)",  # an update must not create a query
            ExpressionAttributeValues=_values(one=1),
            ReturnValues="UPDATED_NEW",
        )
        if reply is None:
            raise UnknownQuery(query_id)
        return int(reply["Attributes"]["attempts"]["N"])

    def finalize(self, record: QueryRecord, outcome: Finalization) -> bool:
        """Terminal state + release of the slot, at most once (the status condition guards both)."""
        sets = ["#s = :status", "finished_at = :fin", "bytes_scanned = :bytes"]
        values: dict[str, Any] = {
            "status": outcome.status,
            "fin": outcome.finished_at,
            "bytes": outcome.bytes_scanned,
            "admitted": QueryStatus.ADMITTED,
            "running": QueryStatus.RUNNING,
        }
        for name in (
            "engine_ms",
            "athena_queue_ms",
            "error_code",
            "error_message",
            "error_kind",
            "output_location",
        ):
            value = getattr(outcome, name)
            if value is not None:
                sets.append(f"{name} = :{name}")
                values[name] = value
        query = self._query_update(
            record.query_id,
            "SET " + ", ".join(sets) + " REMOVE active_pool",
            "#s IN (:admitted, :running)",
            {},
            **values,
        )
        pool = record.statement_class
        # Fair share: the slot-seconds held from the claim to now go into the tenant's service.
        decay, now = self._decay, outcome.finished_at / 1000
        admitted_at = record.admitted_at or outcome.finished_at
        epoch, served = decay.deposit(max(0, outcome.finished_at - admitted_at) / 1000, now)
        _, finished = decay.deposit(1.0, now)
        expired = decay.expired(now)
        service = {
            "minus": -1,
            "bytes": outcome.bytes_scanned,
            "day": outcome.day,
            "unheld": -admitted_at if record.admitted_at else 0,
            "served": served,
            "finished": finished,
            "fin": outcome.finished_at,
            "names": {
                "served": f"{_SERVED}{epoch}",
                "finished": f"{_FINISHED}{epoch}",
                "old_served": f"{_SERVED}{expired}",
                "old_finished": f"{_FINISHED}{expired}",
                "old_lifted": f"{_LIFTED}{expired}",
            },
        }
        charge = "held_ms :unheld, #served :served, #finished :finished"
        same_day = self._tenant_update(
            record.tenant,
            f"ADD running :minus, bytes_today :bytes, {charge} SET released_ms = :fin "
            "REMOVE #old_served, #old_finished, #old_lifted",
            "bytes_day = :day",
            **service,
        )
        new_day = self._tenant_update(
            record.tenant,
            f"ADD running :minus, {charge} SET bytes_today = :bytes, bytes_day = :day, released_ms = :fin "
            "REMOVE #old_served, #old_finished, #old_lifted",
            "attribute_not_exists(bytes_day) OR bytes_day <> :day",
            **service,
        )
        release = self._pool_update(pool, "ADD #active :minus", None, minus=-1)
        for attempt in range(6):
            reasons = self._transact([query, release, same_day if attempt % 2 == 0 else new_day])
            if reasons is None:
                return True
            if reasons[0] == _CONDITION_FAILED:
                return False  # already terminal: a duplicate releases nothing
        raise DependencyUnavailable(f"finalize of {record.query_id} kept conflicting: {reasons}")

    def cancel_queued(self, record: QueryRecord, now_ms: int) -> bool:
        reasons = self._transact(
            [
                self._query_update(
                    record.query_id,
                    "SET #s = :cancelled, finished_at = :now, error_kind = :kind "
                    "REMOVE queue_tenant, queue_key",
                    "#s = :queued",
                    {},
                    cancelled=QueryStatus.CANCELLED,
                    now=now_ms,
                    kind="cancelled",
                    queued=QueryStatus.QUEUED,
                ),
                self._tenant_update(record.tenant, "ADD queued :minus", None, minus=-1),
            ]
        )
        return reasons is None

    def restart_failed(self, record: QueryRecord) -> bool:
        """A query FAILED after transient errors goes back to the queue (operator redrive)."""
        reasons = self._transact(
            [
                self._query_update(
                    record.query_id,
                    "SET #s = :queued, queue_tenant = :t, queue_key = :k, attempts = :zero "
                    "REMOVE finished_at, error_code, error_message, error_kind",
                    "#s = :failed AND error_kind = :transient",
                    {},
                    queued=QueryStatus.QUEUED,
                    t=record.tenant,
                    k=queue_key(record.priority, record.seq),
                    zero=0,
                    failed=QueryStatus.FAILED,
                    transient="transient",
                ),
                self._tenant_update(record.tenant, "ADD queued :one", None, one=1),
            ]
        )
        return reasons is None

    # --- reconcile --------------------------------------------------------------------------------
    def active(self, pool: str) -> list[QueryRecord]:
        return [
            record_from_item(i)
            for i in self._query(
                TableName=self._queries,
                IndexName="active",
                KeyConditionExpression="active_pool = :p",
                ExpressionAttributeValues=_values(p=pool),
            )
        ]

    def count_queued(self, tenant: str) -> int:
        total = 0
        kwargs: dict[str, Any] = {
            "TableName": self._queries,
            "IndexName": "queued_heads",
            "KeyConditionExpression": "queue_tenant = :t",
            "ExpressionAttributeValues": _values(t=tenant),
            "Select": "COUNT",
        }
        while True:
            reply = self._call("query", **kwargs)
            total += int(reply.get("Count", 0))
            if "LastEvaluatedKey" not in reply:
                return total
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def repair_counter(self, key: str, attribute: str, expected: int, actual: int) -> bool:
        condition = "#a = :old" if expected else "attribute_not_exists(#a) OR #a = :old"
        return (
            self._update(
                TableName=self._state,
                Key=self._key(key),
                UpdateExpression="SET #a = :new",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues=_values(old=expected, new=actual),
            )
            is not None
        )

    def save_waiting(self, tenant: str, reason: str | None, since: float | None) -> None:
        if reason is None or since is None:
            self._update(
                TableName=self._state,
                Key=self._key(f"tenant#{tenant}"),
                UpdateExpression="REMOVE waiting_reason, waiting_since",
            )
            return
        self._update(
            TableName=self._state,
            Key=self._key(f"tenant#{tenant}"),
            UpdateExpression="SET waiting_reason = :reason, waiting_since = :since",
            ExpressionAttributeValues=_values(reason=reason, since=since),
        )

    def save_room(self, pool: str, slots: int, at: float, binding: bool) -> bool:
        return (
            self._update(
                TableName=self._state,
                Key=self._key(f"pool#{pool}"),
                UpdateExpression="SET room_slots = :slots, room_at = :at, room_binding = :binding",
                ConditionExpression="attribute_not_exists(room_at) OR room_at < :at",
                ExpressionAttributeValues=_values(slots=slots, at=at, binding=binding),
            )
            is not None
        )

    def ensure_pool(self, pool: str, limit_value: float, now: float) -> None:
        """Create the pool item once, with its initial effective limit (claims compare against it)."""
        self._update(
            TableName=self._state,
            Key=self._key(f"pool#{pool}"),
            UpdateExpression=(
                "SET limit_value = :v, limit_slots = :slots, limit_changed_at = :c, "
                "#active = if_not_exists(#active, :zero)"
            ),
            ConditionExpression="attribute_not_exists(limit_value)",
            ExpressionAttributeNames={"#active": "active"},
            ExpressionAttributeValues=_values(v=limit_value, slots=whole_slots(limit_value), c=now, zero=0),
        )
