"""Fidelity to Google's published API descriptions: the discovery documents google-api-python-client
ships (iamcredentials v1, sts v1, storage v1, cloudresourcemanager v1 and v3).

- every emulator route either names the discovery method it implements (and matches its HTTP
  method and path, accepts only fields of its request schema, answers only fields of its
  response schema with their types), or says why no discovery document describes it;
- every request credhelper sends to a described API matches its method: query parameters, body
  field names and JSON types;
- an unknown request field gets 400 INVALID_ARGUMENT, as Google answers.
"""

import ast
import json
import os
import re

import googleapiclient
import pytest
import requests

from credhelper.emulator.server import ROUTES
from support import TARGET, cli_env, run_cli, write_profiles

DOCUMENTS = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")
# parameters every Google API accepts (discovery's top-level "parameters")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
# fields a route accepts though its discovery document does not list them, and why
UNDOCUMENTED_FIELDS = {
    ("iamcredentials.projects.serviceAccounts.generateIdToken", "useEmailAzp"):
        "google-auth's service_account.IDTokenCredentials sends it outside googleapis.com, and Google accepts it",
}
SAMPLE_PATH_VALUES = {"projectsId": "-", "serviceAccountsId": "sa@p.iam.gserviceaccount.com", "bucket": "bkt",
                      "object": "dir/obj.txt", "projectId": "p-1", "name": "p-1"}


def document(name):
    with open(os.path.join(DOCUMENTS, f"{name}.json"), encoding="utf-8") as f:
        return json.load(f)


def method(doc, method_id):
    def walk(resource):
        for m in resource.get("methods", {}).values():
            if m["id"] == method_id:
                return m
        for child in resource.get("resources", {}).values():
            found = walk(child)
            if found:
                return found
        return None

    found = walk(doc)
    assert found, f"{doc['name']} {doc['version']} has no method {method_id}"
    return found


def described(route):
    doc = document(route.api[0])
    return doc, method(doc, route.api[1])


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def check_shape(value, schema, doc, where):
    """value (a JSON value) conforms to the discovery schema: known field names, right JSON types."""
    if "$ref" in schema:
        schema = doc["schemas"][schema["$ref"]]
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), f"{where}: {type(value).__name__}, not an object"
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                check_shape(item, properties[name], doc, f"{where}.{name}")
            else:
                assert extra is not None, f"{where}: field {name!r} is not in the schema ({sorted(properties)})"
                check_shape(item, extra, doc, f"{where}.{name}")
    elif kind == "array":
        assert isinstance(value, list), f"{where}: {type(value).__name__}, not an array"
        for i, item in enumerate(value):
            check_shape(item, schema["items"], doc, f"{where}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: {value!r} is not a string (format {schema.get('format')})"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not an integer"
    elif kind == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: not a number"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: {value!r} is not a boolean"


# -- every route -------------------------------------------------------------------------------------

API_ROUTES = [r for r in ROUTES if r.api]


def test_every_route_names_its_discovery_method_or_why_there_is_none():
    for route in ROUTES:
        assert route.api or route.undescribed, f"{route.method} {route.pattern.pattern}: neither"
    described_apis = {r.api[0] for r in API_ROUTES}
    assert described_apis == {"iamcredentials.v1", "sts.v1", "storage.v1", "cloudresourcemanager.v1",
                              "cloudresourcemanager.v3"}


@pytest.mark.parametrize("route", API_ROUTES, ids=[r.api[1] + "@" + r.api[0] for r in API_ROUTES])
def test_route_matches_the_discovery_method_and_path(route):
    doc, m = described(route)
    assert m["httpMethod"] == route.method
    template = doc.get("servicePath", "") + m.get("flatPath", m["path"])
    concrete = "/" + re.sub(r"\{\+?(\w+)\}", lambda g: SAMPLE_PATH_VALUES[g.group(1)], template)
    assert route.pattern.fullmatch(concrete), f"{concrete} does not match {route.pattern.pattern}"
    request_schema = m.get("request")
    for name in route.fields:
        assert request_schema, f"{route.api[1]} takes no request body, but the emulator reads {name!r}"
        properties = doc["schemas"][request_schema["$ref"]]["properties"]
        assert camel(name) in properties or (route.api[1], name) in UNDOCUMENTED_FIELDS, f"{route.api[1]}: {name!r} is not a field of {request_schema['$ref']}"
    for name in route.query:
        assert name in m.get("parameters", {}) or name in doc.get("parameters", {}), (
            f"{route.api[1]}: query parameter {name!r} is not in the discovery document")


# -- what the routes answer ----------------------------------------------------------------------------

def answers(emulator, sample):
    """(route api, response JSON) for a valid call of every described method."""
    token = emulator.issue_access_token(sample.source, [CLOUD_PLATFORM])
    target_token = emulator.issue_access_token(sample.target, [CLOUD_PLATFORM])
    iam = f"{emulator.url}/v1/projects/-/serviceAccounts/{sample.target}"
    auth = {"Authorization": f"Bearer {token}"}
    target_auth = {"Authorization": f"Bearer {target_token}"}
    calls = {
        "iamcredentials.projects.serviceAccounts.generateAccessToken":
            lambda: requests.post(f"{iam}:generateAccessToken", json={"scope": [CLOUD_PLATFORM], "lifetime": "600s"},
                                  headers=auth),
        "iamcredentials.projects.serviceAccounts.generateIdToken":
            lambda: requests.post(f"{iam}:generateIdToken", json={"audience": "https://a.example",
                                                                  "includeEmail": True}, headers=auth),
        "iamcredentials.projects.serviceAccounts.signJwt":
            lambda: requests.post(f"{iam}:signJwt", json={"payload": json.dumps({"sub": "x"})}, headers=auth),
        "iamcredentials.projects.serviceAccounts.signBlob":
            lambda: requests.post(f"{iam}:signBlob", json={"payload": "aGVsbG8="}, headers=auth),
        "sts.token": lambda: requests.post(f"{emulator.url}/v1/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "audience": sample.idp_audience,
            "scope": CLOUD_PLATFORM, "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": open(sample.subject_token).read().strip(),
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt"}),
        "storage.buckets.get": lambda: requests.get(f"{emulator.url}/storage/v1/b/{sample.bucket}",
                                                    headers=target_auth),
        "storage.objects.list": lambda: requests.get(f"{emulator.url}/storage/v1/b/{sample.bucket}/o",
                                                     headers=target_auth),
        "storage.objects.get": lambda: requests.get(f"{emulator.url}/storage/v1/b/{sample.bucket}/o/foo.txt",
                                                    headers=target_auth),
    }
    for version in ("v1", "v3"):
        calls[f"cloudresourcemanager.projects.get@{version}"] = (
            lambda v=version: requests.get(f"{emulator.url}/{v}/projects/{sample.project_id}", headers=target_auth))
    return calls


def test_every_described_route_answers_only_fields_of_its_response_schema(emulator, sample):
    calls = answers(emulator, sample)
    for route in API_ROUTES:
        key = route.api[1] if route.api[1] in calls else f"{route.api[1]}@{route.api[0].rsplit('.', 1)[1]}"
        response = calls[key]()
        assert response.status_code == 200, (key, response.text)
        doc, m = described(route)
        check_shape(response.json(), m["response"], doc, route.api[1])


@pytest.mark.parametrize("verb", ["generateAccessToken", "generateIdToken", "signJwt", "signBlob"])
def test_an_unknown_request_field_is_400_invalid_argument(emulator, sample, verb):
    token = emulator.issue_access_token(sample.source, [CLOUD_PLATFORM])
    answer = requests.post(f"{emulator.url}/v1/projects/-/serviceAccounts/{sample.target}:{verb}",
                           json={"lifetimeSecs": 600}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and 'Unknown name "lifetimeSecs"' in error["message"]


def test_an_unknown_field_of_a_json_token_exchange_is_400_invalid_argument(emulator, sample):
    exchange = {"grantType": "urn:ietf:params:oauth:grant-type:token-exchange", "audience": sample.idp_audience,
                "scope": CLOUD_PLATFORM, "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
                "subjectToken": open(sample.subject_token).read().strip(),
                "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt"}
    assert requests.post(f"{emulator.url}/v1/token", json=exchange).status_code == 200  # the API's JSON form
    answer = requests.post(f"{emulator.url}/v1/token", json={**exchange, "subject_token_kind": "jwt"})
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT" and "subject_token_kind" in answer.json()["error"]["message"]


# -- what credhelper sends ---------------------------------------------------------------------------------

def test_every_request_credhelper_sends_matches_the_discovery_documents(tmp_path, emulator, sample):
    config = write_profiles(tmp_path / "profiles.ini", emulator.url, {
        "target": {"source": sample.source_key, "target": TARGET},
        "chained": {"source": sample.source_key, "delegates": f"{sample.delegate_b}, {sample.delegate_c}",
                    "target": TARGET},
        "federated": {"source": sample.external_account, "target": TARGET},
        "user": {"source": sample.authorized_user, "target": TARGET},
    }, cache=None)
    env = cli_env(tmp_path, config)
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({"sub": "x", "aud": "https://a.example"}))
    emulator.journal.clear()
    for args in (["print-access-token", "--profile", "target", "--scopes", CLOUD_PLATFORM, "--lifetime", "600"],
                 ["print-access-token", "--profile", "chained"],
                 ["print-identity-token", "--profile", "target", "--audience", "https://a.example"],
                 ["print-identity-token", "--profile", "chained", "--audience", "https://a.example"],
                 ["sign-jwt", "--profile", "target", "--claims", str(claims)],
                 ["print-access-token", "--profile", "federated"],
                 ["print-access-token", "--profile", "user"]):
        done = run_cli(args, env)
        assert done.returncode == 0, (args, done.stderr)
    sent = [entry for entry in emulator.journal if entry["api"]]
    methods = {entry["api"][1] for entry in sent}
    assert {"iamcredentials.projects.serviceAccounts.generateAccessToken",
            "iamcredentials.projects.serviceAccounts.generateIdToken",
            "iamcredentials.projects.serviceAccounts.signJwt", "sts.token"} <= methods
    for entry in sent:
        doc, m = document(entry["api"][0]), method(document(entry["api"][0]), entry["api"][1])
        assert entry["method"] == m["httpMethod"]
        for name in entry["query"]:
            assert name in m.get("parameters", {}) or name in doc.get("parameters", {}), (entry["api"], name)
        if entry["body"] is not None:
            body = entry["body"]
            if entry["form"]:
                body = {camel(k): v for k, v in body.items()}
            check_shape(body, m["request"], doc, f"credhelper's {entry['api'][1]} request")


# -- the emulator stands apart from the product --------------------------------------------------------

def test_the_emulator_imports_nothing_of_credhelper_but_the_metadata_protocol():
    package = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "credhelper", "emulator")
    outside = set()
    for name in os.listdir(package):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(package, name), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module if node.module != "credhelper" else f"credhelper.{a.name}" for a in node.names]
            else:
                continue
            outside |= {f"{name}: {n}" for n in names if n.split(".")[0] == "credhelper"
                        and not n.startswith("credhelper.emulator") and n != "credhelper.metadata_protocol"}
    assert not outside, sorted(outside)
