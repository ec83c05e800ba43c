"""The local platform: LocalStack on the host, the `local` Terraform stage applied to it, a seeded dataset.

`make localstack-test` and `make demo` both run through `LocalPlatform`: bring LocalStack up, package the
Lambdas, apply `terraform/stages/local`, seed the sample dataset (S3 objects and the Athena emulator's
table registry), and on exit destroy the stage and stop LocalStack, whatever happened in between.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairshare_tools.tooling.deploy import LOCAL_STAGE, make_deployer
from fairshare_tools.tooling.stage import (
    DEFAULT_LOCALSTACK_ENDPOINT,
    LOCALSTACK_CREDENTIALS,
    LOCALSTACK_ENDPOINT_ENV,
    StageAccess,
    output_value,
    stage_access,
)

LOCALSTACK_ENDPOINT = DEFAULT_LOCALSTACK_ENDPOINT
DATA_BUCKET = "fairshare-local-data"
DATASET_DATABASE = "default"
DATASET_TABLE = "trips"
DATASET_ROWS = 5000
OUTPUTS_ENV = "FAIRSHARE_E2E_OUTPUTS"


def trips_csv(rows: int = DATASET_ROWS, seed: int = 42) -> bytes:
    """The sample table `default.trips`, deterministic, so tests can recompute every answer."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trip_id", "vendor", "passengers", "distance_km", "fare"])
    for trip in range(1, rows + 1):
        distance = round(rng.uniform(0.5, 40.0), 2)
        writer.writerow(
            [trip, rng.choice(["acme", "blue", "city", "dash"]), rng.randint(1, 6), distance,
             round(3.0 + distance * rng.uniform(1.1, 2.4), 2)]
        )  # fmt: skip
    return out.getvalue().encode()


def emulator_admin(
    endpoint: str, path: str, body: dict[str, Any] | None = None, method: str | None = None
) -> Any:
    """Call the Athena emulator's admin API on the LocalStack gateway."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{endpoint}/_fairshare/athena/{path.lstrip('/')}",
        data=data,
        method=method or ("GET" if body is None else "POST"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def aws_client(service: str, endpoint: str = LOCALSTACK_ENDPOINT) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        **LOCALSTACK_CREDENTIALS,
    )


# One table of each team's own database (terraform/stages/local: analytics and finance have one; only
# their execution roles reach it), beside the shared default.trips: "database.table" -> CSV text.
TEAM_TABLES = {
    "analytics.sessions": "session_id,pages\n1,3\n2,5\n3,1\n",
    "finance.ledger": "entry_id,amount\n1,100.00\n2,-40.50\n",
}


def seed_dataset(endpoint: str = LOCALSTACK_ENDPOINT) -> None:
    """Upload the sample tables to S3 and register them in the emulator's table registry."""
    s3 = aws_client("s3", endpoint)
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if DATA_BUCKET not in existing:
        s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_object(Bucket=DATA_BUCKET, Key=f"{DATASET_TABLE}/part-0000.csv", Body=trips_csv())
    catalog = {
        f"{DATASET_DATABASE}.{DATASET_TABLE}": {
            "format": "csv",
            "location": f"s3://{DATA_BUCKET}/{DATASET_TABLE}/",
            "header": True,
        }
    }
    for name, text in TEAM_TABLES.items():
        database, table = name.split(".")
        s3.put_object(Bucket=DATA_BUCKET, Key=f"{database}/{table}/part-0000.csv", Body=text.encode())
        catalog[name] = {
            "format": "csv",
            "location": f"s3://{DATA_BUCKET}/{database}/{table}/",
            "header": True,
        }
    emulator_admin(endpoint, "catalog", catalog)


@dataclass
class LocalPlatform:
    """Context manager: the whole local platform up on enter, torn down on exit."""

    root: Path
    say: Callable[[str], None] = print
    endpoint: str = LOCALSTACK_ENDPOINT
    timings: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Leave LocalStack and the applied stage up on exit; the next enter finds them running and applies
    # only what changed (`--keep` of the benchmark, for measuring one change after another).
    keep: bool = False

    @property
    def outputs_file(self) -> Path:
        return self.root / ".localstack" / "outputs.json"

    def workgroups(self) -> list[str]:
        return sorted(output_value(self.outputs, "workgroup_names").values())

    def access(self) -> StageAccess:
        return stage_access(LOCAL_STAGE, self.outputs, {LOCALSTACK_ENDPOINT_ENV: self.endpoint})

    @contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        started = time.monotonic()
        self.say(f"local platform: {step} ...")
        try:
            yield
        finally:
            self.timings[step] = time.monotonic() - started
            self.say(f"local platform: {step} took {self.timings[step]:.1f} s")

    def _ctl(self, command: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        subprocess.run(
            [sys.executable, str(self.root / "localstack" / "ctl.py"), command], env=env, check=True
        )

    def __enter__(self) -> LocalPlatform:
        try:
            with self._timed("bring-up"):
                self._ctl("up")
            deployer = make_deployer(self.root, LOCAL_STAGE, say=self.say)
            with self._timed("apply"):
                deployer.plan()  # initialises the stage first
                deployer.apply(yes=True)
                self.outputs = deployer.output()
            self.outputs_file.parent.mkdir(parents=True, exist_ok=True)
            self.outputs_file.write_text(json.dumps(self.outputs), encoding="utf-8")
            with self._timed("seed"):
                seed_dataset(self.endpoint)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            self.say("local platform: kept up (make localstack-down stops it)")
            return
        try:
            if self.outputs or (self.root / ".localstack" / "terraform.tfstate").exists():
                with self._timed("destroy"):
                    make_deployer(self.root, LOCAL_STAGE, say=self.say).destroy(yes=True)
        except Exception as error:  # the stop below must happen whatever destroy did
            self.say(f"local platform: destroy failed: {error}")
        finally:
            with self._timed("stop"):
                self._ctl("down")
