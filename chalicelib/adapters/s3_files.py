"""The inbox bucket as a FileStore."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import IO, Any

from botocore.exceptions import ClientError

from chalicelib.services.ports import ObjectInfo

_CHUNK = 1024 * 1024


class S3FileStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    def head(self, key: str) -> ObjectInfo | None:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(key, head["ContentLength"], head["ETag"].strip('"'), head["LastModified"],
                          head.get("VersionId"))

    def open(self, key: str) -> IO[bytes]:
        body: IO[bytes] = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        return body

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        body = self.open(key)
        while chunk := body.read(_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def copy(self, source_key: str, destination_key: str) -> None:
        # copy() switches to multipart copy above 8 MB, so files of any size keep their bytes.
        self._s3.copy({"Bucket": self.bucket, "Key": source_key}, self.bucket, destination_key)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)

    def put_json(self, key: str, document: Mapping[str, Any]) -> None:
        body = json.dumps(document, indent=2, ensure_ascii=False, default=str).encode("utf-8")
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get_json(self, key: str) -> Any:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return None
            raise
        return json.loads(body)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(item["Key"], item["Size"], item["ETag"].strip('"'), item["LastModified"])

    def touch(self, key: str, counter: str, limit: int) -> int | None:
        head = self._s3.head_object(Bucket=self.bucket, Key=key)
        metadata = dict(head.get("Metadata", {}))
        count = int(metadata.get(counter, "0"))
        if count >= limit:
            return None
        metadata[counter] = str(count + 1)
        self._s3.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                             Metadata=metadata, MetadataDirective="REPLACE")
        return count + 1
