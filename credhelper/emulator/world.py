"""The world file: everything the emulator knows about projects, identities and permissions.

A world file is one JSON object. Every section is optional; unknown keys are errors, so a
typo never silently grants or removes access. `credhelper emulator init DIR` writes a
complete example.

    {
      "projects": [{"projectId": "credhelper-demo", "projectNumber": "424242424242"}],

      "serviceAccounts": [{
        "email": "target-serviceaccount@credhelper-demo.iam.gserviceaccount.com",
        "uniqueId": "100000000000000000004",            # the "sub" of its ID tokens
        "keys": [{"keyId": "3f2a...", "publicKeyPem": "-----BEGIN PUBLIC KEY-----..."}],
                                                         # user-managed keys (jwt-bearer grant);
                                                         # a certificate PEM works too
        "maxTokenLifetimeSecs": 43200,                   # 3600 (default) up to 43200, as with the
                                                         # iam.allowServiceAccountCredentialLifetimeExtension
                                                         # organization policy
        "iamPolicy": {"bindings": [{"role": "roles/iam.serviceAccountTokenCreator",
                                    "members": ["serviceAccount:source-serviceaccount@..."]}]}
      }],

      "users": [{
        "email": "alice@credhelper-demo.example.com", "uniqueId": "110000000000000000001",
        "clientId": "...apps.googleusercontent.com", "clientSecret": "...",
        "refreshTokens": ["1//EMULATED-..."],
        "scopes": ["openid", "https://www.googleapis.com/auth/userinfo.email",
                   "https://www.googleapis.com/auth/cloud-platform"]   # what the refresh tokens grant
      }],

      "workloadIdentityPools": [{
        "projectNumber": "424242424242", "poolId": "credhelper-pool",
        "providers": [{
          "providerId": "credhelper-idp",
          "issuer": "https://idp.credhelper.example",
          "allowedAudiences": [],        # empty: the provider's resource name, with // or https:// prefix
          "jwks": {"keys": [{"kty": "RSA", "kid": "...", "n": "...", "e": "AQAB"}]}
        }]                                # no "jwks" is allowed only for issuer https://accounts.google.com:
                                          # the emulator's own ID-token keys are trusted then
      }],

      "buckets": [{
        "name": "credhelper-demo-test",
        "objects": {"foo.txt": "bar"},   # name -> UTF-8 content
        "iamPolicy": {"bindings": [{"role": "roles/storage.objectViewer", "members": ["serviceAccount:..."]}]}
      }],

      "metadata": {                        # the GCE metadata server's default account
        "serviceAccount": "source-serviceaccount@credhelper-demo.iam.gserviceaccount.com",
        "scopes": ["https://www.googleapis.com/auth/cloud-platform"]
      },

      "signingKey": {"keyId": "...", "privateKeyPem": "..."}
                                          # the emulator's key for Google-issued ID tokens; without it a
                                          # fresh key is made at each start
    }

Members use IAM's syntax: `serviceAccount:EMAIL`, `user:EMAIL`,
`principal://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/subject/SUBJECT`
and `principalSet://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/*`.
A federated token's subject is the subject token's `sub` claim. Roles the emulator knows are
listed in ROLE_PERMISSIONS; others are rejected.
"""

import json
import re
from dataclasses import dataclass, field, replace

from credhelper.emulator import jwt

GOOGLE_ISSUER = "https://accounts.google.com"
DEFAULT_MAX_LIFETIME_SECS = 3600
EXTENDED_MAX_LIFETIME_SECS = 43200
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

TOKEN_CREATOR_PERMISSIONS = frozenset({
    "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken",
    "iam.serviceAccounts.implicitDelegation", "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt"})
ROLE_PERMISSIONS = {
    "roles/iam.serviceAccountTokenCreator": TOKEN_CREATOR_PERMISSIONS,
    "roles/iam.serviceAccountOpenIdTokenCreator": frozenset({"iam.serviceAccounts.getOpenIdToken"}),
    "roles/storage.objectViewer": frozenset({"storage.objects.get", "storage.objects.list"}),
    "roles/storage.legacyObjectReader": frozenset({"storage.objects.get"}),
    "roles/storage.legacyBucketReader": frozenset({"storage.buckets.get", "storage.objects.list"}),
    "roles/storage.objectUser": frozenset({"storage.objects.get", "storage.objects.list", "storage.objects.create",
                                           "storage.objects.delete", "storage.objects.update"}),
    "roles/storage.objectAdmin": frozenset({"storage.objects.get", "storage.objects.list", "storage.objects.create",
                                            "storage.objects.delete", "storage.objects.update",
                                            "storage.objects.getIamPolicy", "storage.objects.setIamPolicy"}),
}

POOL_PREFIX = "iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{pool}"
_MEMBER_RE = re.compile(r"^(serviceAccount|user):[^@\s]+@[^@\s]+$"
                        r"|^principal://iam\.googleapis\.com/projects/\d+/locations/global/workloadIdentityPools/"
                        r"[^/\s]+/subject/\S+$"
                        r"|^principalSet://iam\.googleapis\.com/projects/\d+/locations/global/workloadIdentityPools/"
                        r"[^/\s]+/\*$")


@dataclass(frozen=True)
class Policy:
    """An IAM policy reduced to role -> members."""

    bindings: tuple = ()  # ((role, frozenset(members)), ...)

    def permits(self, member, permission):
        return any(permission in ROLE_PERMISSIONS[role] and _member_matches(member, members)
                   for role, members in self.bindings)


def _member_matches(member, members):
    if member in members:
        return True
    if member.startswith("principal://"):
        pool = member.split("/subject/", 1)[0].replace("principal://", "principalSet://", 1)
        return pool + "/*" in members
    return False


@dataclass(frozen=True)
class ServiceAccount:
    email: str
    unique_id: str
    keys: dict = field(default_factory=dict)  # kid -> RSA public key
    max_lifetime_secs: int = DEFAULT_MAX_LIFETIME_SECS
    policy: Policy = Policy()

    @property
    def member(self):
        return "serviceAccount:" + self.email

    @property
    def project_id(self):
        return self.email.partition("@")[2].split(".", 1)[0]


@dataclass(frozen=True)
class User:
    email: str
    unique_id: str
    client_id: str
    client_secret: str
    refresh_tokens: frozenset
    scopes: tuple

    @property
    def member(self):
        return "user:" + self.email


@dataclass(frozen=True)
class Provider:
    name: str  # projects/N/locations/global/workloadIdentityPools/P/providers/R
    pool_principal_prefix: str  # principal://iam.googleapis.com/projects/N/.../workloadIdentityPools/P
    issuer: str
    allowed_audiences: tuple
    keys: dict  # kid -> RSA public key; empty: the emulator's own keys (issuer accounts.google.com)

    def accepts_audience(self, audience):
        if self.allowed_audiences:
            return audience in self.allowed_audiences
        return audience in ("//iam.googleapis.com/" + self.name, "https://iam.googleapis.com/" + self.name)

    def principal(self, subject):
        return f"{self.pool_principal_prefix}/subject/{subject}"


@dataclass(frozen=True)
class Bucket:
    name: str
    objects: dict  # name -> bytes
    policy: Policy = Policy()


@dataclass(frozen=True)
class World:
    projects: dict = field(default_factory=dict)  # projectId -> projectNumber
    service_accounts: dict = field(default_factory=dict)  # email -> ServiceAccount
    users: dict = field(default_factory=dict)  # email -> User
    providers: dict = field(default_factory=dict)  # "//iam.googleapis.com/projects/..." -> Provider
    buckets: dict = field(default_factory=dict)  # name -> Bucket
    metadata_account: str = None
    metadata_scopes: tuple = (CLOUD_PLATFORM_SCOPE,)
    signing_key: tuple = None  # (kid, RSA private key) or None

    def user_by_refresh_token(self, refresh_token):
        return next((u for u in self.users.values() if refresh_token in u.refresh_tokens), None)

    def member_for(self, email):
        """The IAM member for an email (or a principal:// identifier) as the emulator sees it."""
        if email.startswith("principal://"):
            return email
        return self.users[email].member if email in self.users else "serviceAccount:" + email

    @classmethod
    def from_dict(cls, data, source="world"):
        return _Parser(source).world(data)


class WorldError(ValueError):
    """A world file that cannot be read or is malformed; the message names the file and the bad entry.

    (The emulator imports nothing of credhelper's but the metadata protocol; `credhelper emulator`
    reports this as a profile error, exit 3.)
    """


def load_world(path):
    """Read and validate a world file; raises WorldError naming the file and the bad entry."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise WorldError(f"world file {path} is not valid JSON: {exc}") from None
    return World.from_dict(data, source=str(path))


class _Parser:
    """Validates the JSON and builds the frozen World; errors name the path inside the file."""

    def __init__(self, source):
        self.source = source

    def fail(self, where, message):
        raise WorldError(f"world file {self.source}: {where}: {message}")

    def obj(self, value, where, required=(), optional=()):
        if not isinstance(value, dict):
            self.fail(where, "must be an object")
        missing = [k for k in required if k not in value]
        unknown = sorted(set(value) - set(required) - set(optional))
        if missing:
            self.fail(where, f"missing {', '.join(repr(k) for k in missing)}")
        if unknown:
            self.fail(where, f"unknown key {unknown[0]!r}")
        return value

    def array(self, value, where):
        if not isinstance(value, list):
            self.fail(where, "must be a list")
        return value

    def string(self, value, where, pattern=None):
        if not isinstance(value, str) or not value or (pattern and not re.fullmatch(pattern, value)):
            self.fail(where, "must be a non-empty string" + (f" matching {pattern}" if pattern else ""))
        return value

    def strings(self, value, where):
        return tuple(self.string(v, f"{where}[{i}]") for i, v in enumerate(self.array(value, where)))

    def world(self, data):
        self.obj(data, "top level", optional=("projects", "serviceAccounts", "users", "workloadIdentityPools",
                                              "buckets", "metadata", "signingKey"))
        projects = {}
        for p, w in self.each(data, "projects"):
            self.obj(p, w, required=("projectId", "projectNumber"))
            number = self.string(p["projectNumber"], w + ".projectNumber", r"\d+")
            projects[self.string(p["projectId"], w + ".projectId")] = number
        accounts = self.unique([self.service_account(a, w) for a, w in self.each(data, "serviceAccounts")],
                               "serviceAccounts", "email")
        users = self.unique([self.user(u, w) for u, w in self.each(data, "users")], "users", "email")
        providers = {"//iam.googleapis.com/" + provider.name: provider
                     for pool, w in self.each(data, "workloadIdentityPools") for provider in self.pool(pool, w)}
        buckets = self.unique([self.bucket(b, w) for b, w in self.each(data, "buckets")], "buckets", "name")
        world = World(projects=projects, service_accounts=accounts, users=users, providers=providers, buckets=buckets)
        if "metadata" in data:
            m = self.obj(data["metadata"], "metadata", required=("serviceAccount",), optional=("scopes",))
            email = self.string(m["serviceAccount"], "metadata.serviceAccount")
            if email not in accounts:
                self.fail("metadata.serviceAccount", f"{email} is not in serviceAccounts")
            world = replace(world, metadata_account=email,
                             metadata_scopes=self.strings(m.get("scopes", [CLOUD_PLATFORM_SCOPE]), "metadata.scopes"))
        if "signingKey" in data:
            k = self.obj(data["signingKey"], "signingKey", required=("keyId", "privateKeyPem"))
            try:
                key = jwt.load_private_pem(self.string(k["privateKeyPem"], "signingKey.privateKeyPem"))
            except ValueError:
                self.fail("signingKey.privateKeyPem", "is not an unencrypted RSA private key in PEM")
            world = replace(world, signing_key=(self.string(k["keyId"], "signingKey.keyId"), key))
        return world

    def each(self, data, section):
        """(item, "section[i]") for each item of an optional list section."""
        return [(item, f"{section}[{i}]") for i, item in enumerate(self.array(data.get(section, []), section))]

    def unique(self, items, where, key):
        out = {}
        for item in items:
            name = getattr(item, key)
            if name in out:
                self.fail(where, f"duplicate {key} {name}")
            out[name] = item
        return out

    def policy(self, value, where, roles_prefix):
        self.obj(value, where, required=("bindings",))
        bindings = []
        for i, b in enumerate(self.array(value["bindings"], where + ".bindings")):
            w = f"{where}.bindings[{i}]"
            self.obj(b, w, required=("role", "members"))
            role = self.string(b["role"], w + ".role")
            if role not in ROLE_PERMISSIONS or not role.startswith(roles_prefix):
                known = ", ".join(r for r in ROLE_PERMISSIONS if r.startswith(roles_prefix))
                self.fail(w + ".role", f"unknown role {role!r} (known here: {known})")
            members = self.strings(b["members"], w + ".members")
            for j, m in enumerate(members):
                if not _MEMBER_RE.match(m):
                    self.fail(f"{w}.members[{j}]", f"{m!r} is not serviceAccount:EMAIL, user:EMAIL, "
                                                   "principal://... or principalSet://.../*")
            bindings.append((role, frozenset(members)))
        return Policy(tuple(bindings))

    def public_keys(self, keys, where):
        out = {}
        for i, k in enumerate(self.array(keys, where)):
            w = f"{where}[{i}]"
            self.obj(k, w, required=("keyId", "publicKeyPem"))
            try:
                out[self.string(k["keyId"], w + ".keyId")] = jwt.load_public_pem(self.string(k["publicKeyPem"],
                                                                                       w + ".publicKeyPem"))
            except ValueError:
                self.fail(w + ".publicKeyPem", "is not an RSA public key or certificate in PEM")
        return out

    def service_account(self, a, w):
        self.obj(a, w, required=("email", "uniqueId"), optional=("keys", "maxTokenLifetimeSecs", "iamPolicy",
                                                                 "displayName"))
        email = self.string(a["email"], w + ".email", r"[^@\s]+@[^@\s]+\.gserviceaccount\.com")
        lifetime = a.get("maxTokenLifetimeSecs", DEFAULT_MAX_LIFETIME_SECS)
        if not isinstance(lifetime, int) or not DEFAULT_MAX_LIFETIME_SECS <= lifetime <= EXTENDED_MAX_LIFETIME_SECS:
            self.fail(w + ".maxTokenLifetimeSecs", f"must be an integer from {DEFAULT_MAX_LIFETIME_SECS} "
                                                   f"to {EXTENDED_MAX_LIFETIME_SECS}")
        return ServiceAccount(email=email, unique_id=self.string(a["uniqueId"], w + ".uniqueId", r"\d+"),
                              keys=self.public_keys(a.get("keys", []), w + ".keys"), max_lifetime_secs=lifetime,
                              policy=self.policy(a.get("iamPolicy", {"bindings": []}), w + ".iamPolicy", "roles/iam."))

    def user(self, u, w):
        self.obj(u, w, required=("email", "uniqueId", "clientId", "clientSecret", "refreshTokens"),
                 optional=("scopes",))
        return User(email=self.string(u["email"], w + ".email", r"[^@\s]+@[^@\s]+"),
                    unique_id=self.string(u["uniqueId"], w + ".uniqueId", r"\d+"),
                    client_id=self.string(u["clientId"], w + ".clientId"),
                    client_secret=self.string(u["clientSecret"], w + ".clientSecret"),
                    refresh_tokens=frozenset(self.strings(u["refreshTokens"], w + ".refreshTokens")),
                    scopes=self.strings(u.get("scopes", ["openid", "https://www.googleapis.com/auth/userinfo.email",
                                                         CLOUD_PLATFORM_SCOPE]), w + ".scopes"))

    def pool(self, pool, w):
        self.obj(pool, w, required=("projectNumber", "poolId", "providers"))
        number = self.string(pool["projectNumber"], w + ".projectNumber", r"\d+")
        pool_id = self.string(pool["poolId"], w + ".poolId", r"[a-z0-9-]{4,32}")
        prefix = POOL_PREFIX.format(number=number, pool=pool_id)
        for i, p in enumerate(self.array(pool["providers"], w + ".providers")):
            pw = f"{w}.providers[{i}]"
            self.obj(p, pw, required=("providerId", "issuer"), optional=("allowedAudiences", "jwks"))
            issuer = self.string(p["issuer"], pw + ".issuer", r"https://\S+")
            keys = {}
            if "jwks" in p:
                jwks = self.obj(p["jwks"], pw + ".jwks", required=("keys",))
                for j, k in enumerate(self.array(jwks["keys"], pw + ".jwks.keys")):
                    try:
                        keys[k.get("kid", str(j))] = jwt.public_key_from_jwk(k)
                    except (AttributeError, KeyError, ValueError):
                        self.fail(f"{pw}.jwks.keys[{j}]", "is not an RSA JWK with n and e")
            elif issuer != GOOGLE_ISSUER:
                self.fail(pw, f"needs 'jwks' (only issuer {GOOGLE_ISSUER} may omit it)")
            provider_id = self.string(p["providerId"], pw + ".providerId", r"[a-z0-9-]{4,32}")
            yield Provider(name=f"{prefix.split('/', 1)[1]}/providers/{provider_id}",
                           pool_principal_prefix="principal://" + prefix, issuer=issuer,
                           allowed_audiences=self.strings(p.get("allowedAudiences", []), pw + ".allowedAudiences"),
                           keys=keys)

    def bucket(self, b, w):
        self.obj(b, w, required=("name",), optional=("objects", "iamPolicy"))
        objects = b.get("objects", {})
        if not isinstance(objects, dict):
            self.fail(w + ".objects", "must be an object")
        for name, content in objects.items():
            if not isinstance(content, str):
                self.fail(f"{w}.objects[{name!r}]", "must be a string (the object's UTF-8 content)")
        return Bucket(name=self.string(b["name"], w + ".name", r"[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]"),
                      objects={k: v.encode("utf-8") for k, v in objects.items()},
                      policy=self.policy(b.get("iamPolicy", {"bindings": []}), w + ".iamPolicy", "roles/storage."))
