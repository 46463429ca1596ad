"""credhelper demo: impersonation, a delegation chain and an ID token, end to end, against a private
emulator. No Google account needed.

Each step runs through credhelper's own pipeline (profile -> source -> chain) and says what it
expects; the demo exits 1 if any step does not behave as described.
"""

import os
import sys
import tempfile

PROJECT = "credhelper-demo"
BUCKET = "credhelper-demo-test"


def _email(name):
    return f"{name}@{PROJECT}.iam.gserviceaccount.com"


def _profile_file(directory, url, key):
    text = f"""# written by credhelper demo
[profile source]
source = {key}
token_endpoint = {url}/token
iam_endpoint = {url}
sts_endpoint = {url}

[profile target]
source = {key}
target = {_email('target-serviceaccount')}
token_endpoint = {url}/token
iam_endpoint = {url}
sts_endpoint = {url}

[profile chained]
source = {key}
delegates = {_email('delegate-b')}, {_email('delegate-c')}
target = {_email('target-serviceaccount')}
token_endpoint = {url}/token
iam_endpoint = {url}

[profile skip-b]
source = {key}
delegates = {_email('delegate-c')}
target = {_email('target-serviceaccount')}
token_endpoint = {url}/token
iam_endpoint = {url}
"""
    from credhelper import privatefile

    path = os.path.join(directory, "profiles.ini")
    privatefile.write(path, text)  # 0600 whatever the umask: a group-writable profile file is refused
    return path


class _Steps:
    def __init__(self, out):
        self.out, self.failed = out, 0
        self.number = 0

    def check(self, title, ok, detail):
        self.number += 1
        mark = "ok  " if ok else "FAIL"
        self.out.write(f"[{mark}] {self.number}. {title}\n        {detail}\n")
        self.failed += not ok


def _read_object(request, url, token):
    resp = request(f"{url}/storage/v1/b/{BUCKET}/o/foo.txt?alt=media", method="GET",
                   headers={"Authorization": f"Bearer {token.value}"})
    return resp.status, resp.data.decode("utf-8", "replace")


def run(args=None, out=sys.stdout):
    from credhelper.emulator_command import require_emulator

    require_emulator("credhelper demo")
    from credhelper import broker, transport
    from credhelper.emulator import Emulator
    from credhelper.errors import ImpersonationError
    from credhelper.profile import load_config
    from credhelper.token import ACCESS_TOKEN, ID_TOKEN

    with tempfile.TemporaryDirectory(prefix="credhelper-demo-") as directory:
        emu, files = Emulator.sample(directory)
        with emu:
            url = emu.url
            out.write(f"emulator: {url}, with a sample world of four service accounts and a bucket\n"
                      "(both live in a temporary directory, removed when the demo ends)\n\n")
            config = load_config(_profile_file(directory, url, files.source_key), env={})
            request = transport.Request()
            steps = _Steps(out)

            def token(name, kind=ACCESS_TOKEN, **kw):
                return broker.get_token(config.resolve(name), kind, cache=None, request=request, **kw)

            src = token("source")
            status, body = _read_object(request, url, src)
            steps.check("the source account is denied the bucket object",
                        status == 403, f"GET gs://{BUCKET}/foo.txt as {_email('source-serviceaccount')} -> HTTP {status}")

            tgt = token("target")
            status, body = _read_object(request, url, tgt)
            steps.check("the impersonated target reads it", status == 200 and body == "bar",
                        f"source -> {_email('target-serviceaccount')}: HTTP {status}, foo.txt = {body!r}")

            chained = token("chained")
            status, body = _read_object(request, url, chained)
            steps.check("a chain through delegate-b and delegate-c works", status == 200 and body == "bar",
                        f"source -> delegate-b -> delegate-c -> target: HTTP {status}, foo.txt = {body!r}")

            try:
                token("skip-b")
                steps.check("a chain that skips delegate-b is denied", False, "it was allowed")
            except ImpersonationError as exc:
                steps.check("a chain that skips delegate-b is denied, and credhelper names the hop",
                            "hop 1 of 2" in exc.message, f"{exc.message}\n        {exc.hint}")

            audience = "https://demo.credhelper.example"
            idt = token("target", ID_TOKEN, audience=audience, include_email=True)
            from google.oauth2 import id_token as google_id_token

            claims = google_id_token.verify_token(idt.value, request, audience=audience,
                                                  certs_url=f"{url}/oauth2/v1/certs")
            steps.check("an ID token is minted for the target and verifies against the emulator's certs",
                        claims.get("email") == _email("target-serviceaccount") and claims.get("aud") == audience,
                        f"aud={claims.get('aud')} email={claims.get('email')} iss={claims.get('iss')}")

            delegations = [a for a in emu.audit if a.get("protoPayload", {}).get("methodName") == "storage.objects.get"
                           and a["protoPayload"].get("authenticationInfo", {}).get("serviceAccountDelegationInfo")]
            steps.check("the emulator's audit log (like Cloud Audit Logs) records who impersonated whom",
                        bool(delegations), "\n        ".join(audit_lines(emu.audit)))

    out.write(f"\n{'all steps behaved as described' if not steps.failed else f'{steps.failed} step(s) failed'}\n")
    out.write(NEXT_STEPS)
    return 1 if steps.failed else 0


NEXT_STEPS = """
next:
  try any command against an emulator of your own (README.md, "The emulator", has a profile for it):
    credhelper emulator init ./world
    credhelper emulator --world ./world/world.json --port 8642
  or set up a real profile (man credhelper-profiles) and check it:
    credhelper doctor --profile NAME
"""


def _short(email):
    return (email or "?").split("@")[0]


def audit_lines(audit):
    """The audit records as plain sentences, in order; a run of identical ones is shown once, counted."""
    lines = []
    for entry in audit:
        p = entry.get("protoPayload", {})
        auth = p.get("authenticationInfo", {})
        who, method = _short(auth.get("principalEmail")), p.get("methodName", "?")
        decisions = [a.get("granted") for a in p.get("authorizationInfo", [])]
        if not decisions:
            line = f"{who} signed in (a token exchange: no permission is checked)"
        else:
            resource = p.get("resourceName", "")
            on = f" on {_short(resource.rsplit('/', 1)[-1])}" if "serviceAccounts/" in resource else ""
            line = f"{who} {method}{on}: {'allowed' if all(decisions) else 'denied'}"
        chain = [_short(d.get("firstPartyPrincipal", {}).get("principalEmail"))
                 for d in auth.get("serviceAccountDelegationInfo", [])]
        if chain:
            line += f", delegated by {' -> '.join(chain)}"
        if lines and lines[-1][0] == line:
            lines[-1][1] += 1
        else:
            lines.append([line, 1])
    return [line if count == 1 else f"{line} (x{count})" for line, count in lines]
