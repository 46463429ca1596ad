"""Cloud Storage JSON API object reads: metadata and ?alt=media, honouring IAM and access boundaries."""

import base64
import hashlib
import mimetypes
import urllib.parse

from credhelper.emulator.state import rfc3339
from credhelper.emulator.sts import boundary_allows
from credhelper.emulator.wire import Response

SERVICE = "storage.googleapis.com"
PERMISSION = "storage.objects.get"
STORAGE_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",
                  "https://www.googleapis.com/auth/cloud-platform.read-only",
                  "https://www.googleapis.com/auth/devstorage.read_only",
                  "https://www.googleapis.com/auth/devstorage.read_write",
                  "https://www.googleapis.com/auth/devstorage.full_control")
_DENIED = ("{who} does not have storage.objects.get access to the Google Cloud Storage object. "
           "Permission 'storage.objects.get' denied on resource (or it may not exist).")


def get_object(state, req, bucket_name, object_name):
    resource = f"projects/_/buckets/{bucket_name}/objects/{object_name}"
    token = req.bearer()
    if not token:
        return _fail(401, _DENIED.format(who="Anonymous caller"), "required",
                     locationType="header", location="Authorization")
    grant = state.lookup(token)
    if grant is None:
        return _fail(401, "Invalid Credentials", "authError", locationType="header", location="Authorization")
    if not set(grant.scopes) & set(STORAGE_SCOPES):
        return _fail(403, "Access denied.", "insufficientPermissions")
    bucket = state.world.buckets.get(bucket_name)
    granted = (bucket is not None and bucket.policy.permits(grant.principal, PERMISSION)
               and all(boundary_allows(rules, bucket_name, PERMISSION, resource) for rules in grant.boundaries))
    check = [(resource, PERMISSION, granted)]
    if not granted:
        message = _DENIED.format(who=grant.display_name)
        state.audit.record(SERVICE, PERMISSION, resource, grant.principal, grant.delegation, check,
                           "PERMISSION_DENIED", message)
        return _fail(403, message, "forbidden")
    content = bucket.objects.get(object_name)
    if content is None:
        state.audit.record(SERVICE, PERMISSION, resource, grant.principal, grant.delegation, check, "NOT_FOUND")
        return _fail(404, f"No such object: {bucket_name}/{object_name}", "notFound")
    state.audit.record(SERVICE, PERMISSION, resource, grant.principal, grant.delegation, check)
    content_type = mimetypes.guess_type(object_name)[0] or "application/octet-stream"
    if req.query.get("alt") == "media":
        return Response(200, content, content_type)
    return Response(200, _object_resource(req.base_url, bucket_name, object_name, content, content_type))


def _fail(code, message, reason, **extra):
    headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'} if code == 401 else {}
    return Response(code, {"error": {"code": code, "message": message,
                                     "errors": [{"message": message, "domain": "global", "reason": reason, **extra}]}},
                    headers=headers)


def _object_resource(base_url, bucket, name, content, content_type):
    quoted = urllib.parse.quote(name, safe="")
    generation = "1700000000000000"
    stamp = rfc3339(1700000000).replace("Z", ".000Z")
    return {
        "kind": "storage#object", "id": f"{bucket}/{name}/{generation}", "name": name, "bucket": bucket,
        "selfLink": f"{base_url}/storage/v1/b/{bucket}/o/{quoted}",
        "mediaLink": f"{base_url}/download/storage/v1/b/{bucket}/o/{quoted}?generation={generation}&alt=media",
        "generation": generation, "metageneration": "1", "contentType": content_type, "storageClass": "STANDARD",
        "size": str(len(content)), "md5Hash": base64.b64encode(hashlib.md5(content).digest()).decode(),
        "etag": "CAE=", "timeCreated": stamp, "updated": stamp,
    }
