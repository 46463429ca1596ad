"""Cloud Storage JSON API reads: bucket GET, object list, object metadata and ?alt=media.

Each honours IAM (the bucket's policy) and credential access boundaries. Objects carry md5Hash
and crc32c, and downloads an `x-goog-hash` header, so client libraries verify what they read.
"""

import base64
import hashlib
import mimetypes
import urllib.parse

from credhelper.emulator.state import created_stamp
from credhelper.emulator.sts import boundary_allows
from credhelper.emulator.wire import Response

SERVICE = "storage.googleapis.com"
PERMISSION = "storage.objects.get"
LIST_PERMISSION = "storage.objects.list"
BUCKET_PERMISSION = "storage.buckets.get"
STORAGE_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",
                  "https://www.googleapis.com/auth/cloud-platform.read-only",
                  "https://www.googleapis.com/auth/devstorage.read_only",
                  "https://www.googleapis.com/auth/devstorage.read_write",
                  "https://www.googleapis.com/auth/devstorage.full_control")
GENERATION = "1700000000000000"
MAX_LIST_RESULTS = 1000
_DENIED = ("{who} does not have {permission} access to the Google Cloud Storage {what}. "
           "Permission '{permission}' denied on resource (or it may not exist).")


def get_object(state, req, bucket_name, object_name):
    resource = f"projects/_/buckets/{bucket_name}/objects/{object_name}"
    grant, bucket, failure = _authorize(state, req, bucket_name, PERMISSION, resource, "object")
    if failure:
        return failure
    content = bucket.objects.get(object_name)
    if content is None:
        _audit(state, grant, PERMISSION, resource, True, "NOT_FOUND")
        return _fail(404, f"No such object: {bucket_name}/{object_name}", "notFound")
    _audit(state, grant, PERMISSION, resource, True)
    content_type = _content_type(object_name)
    if req.query.get("alt") == "media":
        hashes = _hashes(content)
        return Response(200, content, content_type, {
            "x-goog-hash": f"crc32c={hashes['crc32c']},md5={hashes['md5Hash']}",
            "x-goog-generation": GENERATION, "x-goog-metageneration": "1",
            "x-goog-stored-content-length": str(len(content)), "x-goog-stored-content-encoding": "identity",
            "x-goog-storage-class": "STANDARD", "ETag": f'"{_md5_hex(content)}"'})
    return Response(200, object_resource(req.base_url, bucket_name, object_name, content))


def list_objects(state, req, bucket_name):
    """objects.list: prefix, delimiter, maxResults and pageToken (the name to start after)."""
    bucket, failure = _bucket_access(state, req, bucket_name, LIST_PERMISSION)
    if failure:
        return failure
    prefix, delimiter = req.query.get("prefix", ""), req.query.get("delimiter", "")
    try:
        limit = min(int(req.query.get("maxResults") or MAX_LIST_RESULTS), MAX_LIST_RESULTS)
    except ValueError:
        return _fail(400, f"Invalid value for maxResults: {req.query.get('maxResults')}", "invalid")
    after = _decode_page_token(req.query.get("pageToken"))
    items, prefixes, next_token = [], set(), None
    for name in sorted(bucket.objects):
        if not name.startswith(prefix) or (after is not None and name <= after):
            continue
        rest = name[len(prefix):]
        if delimiter and delimiter in rest:
            prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
            continue
        if len(items) == limit:
            next_token = _encode_page_token(items[-1]["name"])
            break
        items.append(object_resource(req.base_url, bucket_name, name, bucket.objects[name]))
    body = {"kind": "storage#objects"}
    if prefixes:
        body["prefixes"] = sorted(prefixes)
    if items:
        body["items"] = items
    if next_token:
        body["nextPageToken"] = next_token
    return Response(200, body)


def get_bucket(state, req, bucket_name):
    _, failure = _bucket_access(state, req, bucket_name, BUCKET_PERMISSION)
    if failure:
        return failure
    stamp = created_stamp()
    body = {"kind": "storage#bucket", "selfLink": f"{req.base_url}/storage/v1/b/{bucket_name}",
            "id": bucket_name, "name": bucket_name, "metageneration": "1", "location": "US",
            "storageClass": "STANDARD", "etag": "CAE=", "timeCreated": stamp, "updated": stamp,
            "locationType": "multi-region", "rpo": "DEFAULT",
            "iamConfiguration": {"bucketPolicyOnly": {"enabled": True},
                                 "uniformBucketLevelAccess": {"enabled": True},
                                 "publicAccessPrevention": "enforced"}}
    numbers = sorted(state.world.projects.values())
    if len(numbers) == 1:
        body["projectNumber"] = numbers[0]
    return Response(200, body)


def _bucket_access(state, req, bucket_name, permission):
    """(bucket, None) for a bucket-level call the caller may make, audited; else (None, the failure Response)."""
    resource = f"projects/_/buckets/{bucket_name}"
    grant, bucket, failure = _authorize(state, req, bucket_name, permission, resource, "bucket")
    if failure:
        return None, failure
    _audit(state, grant, permission, resource, True)
    return bucket, None


def _authorize(state, req, bucket_name, permission, resource, what):
    """(grant, bucket, None) when the caller may; else (grant or None, None, the failure Response)."""
    token = req.bearer()
    if not token:
        return None, None, _fail(401, _DENIED.format(who="Anonymous caller", permission=permission, what=what),
                                 "required", locationType="header", location="Authorization")
    grant = state.lookup(token)
    if grant is None:
        return None, None, _fail(401, "Invalid Credentials", "authError", locationType="header",
                                 location="Authorization")
    if not set(grant.scopes) & set(STORAGE_SCOPES):
        return grant, None, _fail(403, "Access denied.", "insufficientPermissions")
    bucket = state.world.buckets.get(bucket_name)
    granted = (bucket is not None and bucket.policy.permits(grant.principal, permission)
               and all(boundary_allows(rules, bucket_name, permission, resource) for rules in grant.boundaries))
    if not granted:
        message = _DENIED.format(who=grant.display_name, permission=permission, what=what)
        _audit(state, grant, permission, resource, False, "PERMISSION_DENIED", message)
        return grant, None, _fail(403, message, "forbidden")
    return grant, bucket, None


def _audit(state, grant, permission, resource, granted, status="OK", message=None):
    state.audit.record(SERVICE, permission, resource, grant.principal, grant.delegation,
                       [(resource, permission, granted)], status, message)


def _fail(code, message, reason, **extra):
    headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'} if code == 401 else {}
    return Response(code, {"error": {"code": code, "message": message,
                                     "errors": [{"message": message, "domain": "global", "reason": reason, **extra}]}},
                    headers=headers)


def object_resource(base_url, bucket, name, content):
    """The storage#object resource, as objects.get and objects.list give it."""
    quoted = urllib.parse.quote(name, safe="")
    stamp = created_stamp()
    return {
        "kind": "storage#object", "id": f"{bucket}/{name}/{GENERATION}", "name": name, "bucket": bucket,
        "selfLink": f"{base_url}/storage/v1/b/{bucket}/o/{quoted}",
        "mediaLink": f"{base_url}/download/storage/v1/b/{bucket}/o/{quoted}?generation={GENERATION}&alt=media",
        "generation": GENERATION, "metageneration": "1", "contentType": _content_type(name),
        "storageClass": "STANDARD", "size": str(len(content)), **_hashes(content),
        "etag": "CAE=", "timeCreated": stamp, "updated": stamp, "timeStorageClassUpdated": stamp,
    }


def _content_type(name):
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _hashes(content):
    return {"md5Hash": base64.b64encode(hashlib.md5(content).digest()).decode(),
            "crc32c": base64.b64encode(crc32c(content).to_bytes(4, "big")).decode()}


def _md5_hex(content):
    return hashlib.md5(content).hexdigest()


def _encode_page_token(name):
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode()


def _decode_page_token(token):
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), the checksum Cloud Storage keeps for every object."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
