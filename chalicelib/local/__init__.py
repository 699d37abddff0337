"""The local stack behind `make run` (`python -m chalicelib.local`): moto, the resources of
infra/resources.yaml, the API on Chalice's local server, S3 -> EventBridge -> handler delivery, schedules and
a mail/SMS outbox, all in one process. Development tooling: it ships in the package but nothing here runs or
imports anything heavy at import time. Start with stack.py; the README lists the environment variables."""
