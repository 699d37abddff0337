"""`make run` = `python -m chalicelib.local`: the whole product on this machine until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from chalicelib.local.aws import LocalStackError
from chalicelib.local.options import LocalOptions
from chalicelib.local.stack import LocalStack


def banner(info: dict[str, Any]) -> str:
    endpoint, bucket, api = info["aws_endpoint_url"], info["inbox_bucket"], info["api_url"]
    return f"""
Dunwell is running locally (stage {info["stage"]}). Ctrl-C stops it; everything lives in memory.

  API        {api}          (no /api prefix)
  AWS        {endpoint}     (moto; any credentials, region {info["region"]})
  Inbox      s3://{bucket}/incoming/
  Outbox     {info["outbox_dir"]}   (sent mail as .eml, SMS under sms/)
  Handlers   {info["invocations_log"]}  (one line per event or schedule handled)

Drop a file to ingest:
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={info["region"]} \\
    aws --endpoint-url {endpoint} s3 cp examples/dunwell-invoices.csv s3://{bucket}/incoming/
  or: boto3.client("s3", endpoint_url="{endpoint}").upload_file("examples/dunwell-invoices.csv", \\
        "{bucket}", "incoming/dunwell-invoices.csv")

Call the API:
  curl {api}/health
  curl -H "Authorization: Bearer $(jq -r .api_key {info["local_json"]})" {api}/invoices
"""


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("DUNWELL_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore.credentials", "pynamodb.settings"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Not named "dunwell...": Powertools filters every logger whose name contains its service name.
    log = logging.getLogger("dw_local")
    try:
        options = LocalOptions.from_env()
    except ValueError as error:
        log.error("%s", error)
        return 2
    stack = LocalStack(options)
    try:
        info = stack.start()
    except (LocalStackError, KeyboardInterrupt) as error:
        log.error("the local stack did not start: %s", error or "interrupted")
        stack.stop()
        return 1
    except Exception:
        log.exception("the local stack did not start")
        stack.stop()
        return 1

    stopping = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(json.dumps(info, indent=2), flush=True)
    print(banner(info), flush=True)
    while not stopping.wait(0.5):
        pass
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
