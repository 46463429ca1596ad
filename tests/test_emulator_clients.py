"""The emulator as Google's own Python client libraries use it: google-auth's project lookup for
workload identity federation (Resource Manager), google-cloud-storage's bucket, list and
checksum-verified download."""

import base64
import hashlib

import google.auth
import google.auth.transport.requests
import pytest
import requests
from google.api_core.client_options import ClientOptions
from google.auth import impersonated_credentials
from google.cloud import storage
from google.oauth2 import service_account

from credhelper.emulator.storage import crc32c

RESOURCE_MANAGER = "https://cloudresourcemanager.googleapis.com"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


class ToEmulator(requests.adapters.HTTPAdapter):
    """Sends what google-auth addresses to a fixed Google host to the emulator (no other way to point
    external_account credentials' project lookup elsewhere: its URL is built from the universe)."""

    def __init__(self, host, url):
        super().__init__()
        self.host, self.url = host, url

    def send(self, request, **kwargs):
        request.url = self.url + request.url[len(self.host):]
        return super().send(request, **kwargs)


def test_google_auth_default_finds_the_project_of_an_external_account_offline(emulator, sample, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sample.external_account))
    for name in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    session = requests.Session()
    session.mount(RESOURCE_MANAGER + "/", ToEmulator(RESOURCE_MANAGER, emulator.url))
    credentials, project = google.auth.default(scopes=[CLOUD_PLATFORM],
                                               request=google.auth.transport.requests.Request(session))
    assert project == sample.project_id
    assert emulator.counters["projects"] == 1 and emulator.counters["sts"] == 1


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_resource_manager_projects_get_by_id_or_number(emulator, sample, version):
    token = emulator.issue_access_token(sample.target, [CLOUD_PLATFORM])
    headers = {"Authorization": f"Bearer {token}"}
    for name in (sample.project_id, sample.project_number):
        project = requests.get(f"{emulator.url}/{version}/projects/{name}", headers=headers).json()
        assert project["projectId"] == sample.project_id
        assert (project["projectNumber"] if version == "v1" else project["name"]) == (
            sample.project_number if version == "v1" else f"projects/{sample.project_number}")
    unknown = requests.get(f"{emulator.url}/{version}/projects/no-such-project", headers=headers)
    assert unknown.status_code == 403 and unknown.json()["error"]["status"] == "PERMISSION_DENIED"
    assert requests.get(f"{emulator.url}/{version}/projects/{sample.project_id}").status_code == 401


@pytest.fixture
def target_storage(emulator, sample):
    source = service_account.Credentials.from_service_account_file(
        str(sample.source_key), scopes=[CLOUD_PLATFORM])  # its token_uri is the emulator
    target = impersonated_credentials.Credentials(source, sample.target, [CLOUD_PLATFORM],
                                                  iam_endpoint_override=f"{emulator.url}/v1/projects/-/"
                                                  f"serviceAccounts/{sample.target}:generateAccessToken")
    return storage.Client(project=sample.project_id, credentials=target,
                          client_options=ClientOptions(api_endpoint=emulator.url))


def test_google_cloud_storage_gets_the_bucket_lists_and_downloads_verified(target_storage, emulator, sample):
    bucket = target_storage.get_bucket(sample.bucket)
    assert bucket.name == sample.bucket and bucket.storage_class == "STANDARD"
    blobs = sorted(target_storage.list_blobs(sample.bucket), key=lambda b: b.name)
    assert [b.name for b in blobs] == sorted(emulator.world.buckets[sample.bucket].objects)  # other tests add some
    blobs = [b for b in blobs if b.name == "foo.txt"]
    assert blobs[0].md5_hash == base64.b64encode(hashlib.md5(b"bar").digest()).decode()
    assert blobs[0].crc32c == base64.b64encode(crc32c(b"bar").to_bytes(4, "big")).decode()
    # checksum="crc32c" makes the library compare x-goog-hash with what it read; a missing header
    # would only be warned about, so the answer's header is checked too
    assert bucket.blob("foo.txt").download_as_bytes(checksum="crc32c") == b"bar"
    assert bucket.blob("foo.txt").download_as_bytes(checksum="md5") == b"bar"
    media = requests.get(f"{emulator.url}/download/storage/v1/b/{sample.bucket}/o/foo.txt?alt=media",
                         headers={"Authorization": f"Bearer {emulator.issue_access_token(sample.target, [CLOUD_PLATFORM])}"})
    assert media.headers["x-goog-hash"] == f"crc32c={blobs[0].crc32c},md5={blobs[0].md5_hash}"


def test_object_listing_pages_prefixes_and_denials(emulator, sample):
    token = emulator.issue_access_token(sample.target, [CLOUD_PLATFORM])
    headers = {"Authorization": f"Bearer {token}"}
    names, page = [], {}
    for _ in range(100):  # one object a page, following nextPageToken to the end
        listing = requests.get(f"{emulator.url}/storage/v1/b/{sample.bucket}/o", headers=headers,
                               params={"maxResults": "1", **page}).json()
        assert listing["kind"] == "storage#objects" and len(listing["items"]) == 1
        names.append(listing["items"][0]["name"])
        if "nextPageToken" not in listing:
            break
        page = {"pageToken": listing["nextPageToken"]}
    assert names == sorted(emulator.world.buckets[sample.bucket].objects) and "foo.txt" in names
    assert requests.get(f"{emulator.url}/storage/v1/b/{sample.bucket}/o", headers=headers,
                        params={"prefix": "nothing/"}).json() == {"kind": "storage#objects"}
    source_token = emulator.issue_access_token(sample.source, [CLOUD_PLATFORM])
    denied = requests.get(f"{emulator.url}/storage/v1/b/{sample.bucket}/o",
                          headers={"Authorization": f"Bearer {source_token}"})
    assert denied.status_code == 403 and "storage.objects.list" in denied.json()["error"]["message"]


def test_crc32c_is_castagnoli():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    assert crc32c(b"") == 0
