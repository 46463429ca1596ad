"""kubectl exec credential plugin: `credhelper kubectl [--profile P]`.

Set up with `credhelper configure kubectl --cluster NAME [--profile P]`, which writes the kubeconfig
user `credhelper-NAME` (exec: credhelper by absolute path, apiVersion client.authentication.k8s.io/v1,
interactiveMode: Never, provideClusterInfo: false: credhelper needs nothing from the cluster) and
points the context NAME at cluster NAME and that user.

It prints an ExecCredential in the apiVersion that $KUBERNETES_EXEC_INFO asks for
(client.authentication.k8s.io/v1 or v1beta1; v1beta1 when the variable is absent or empty):
  {"kind": "ExecCredential", "apiVersion": ..., "spec": {},
   "status": {"token": ACCESS_TOKEN, "expirationTimestamp": "2024-01-01T00:00:00Z"}}
Errors go to stderr, which kubectl shows; stdout stays empty. Exit 2 for an invalid
KUBERNETES_EXEC_INFO, 1 for denied or upstream failures, 3 for a profile file error.

Profile: --profile, then $CREDHELPER_PROFILE, then default (no host mapping applies).
"""

import json
import os
import sys

from credhelper.errors import CredhelperError, ProtocolError, UsageError

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"
API_VERSIONS = (V1, V1BETA1)
MAX_EXEC_INFO_CHARS = 1 << 20


def requested_api_version(env=os.environ):
    """The apiVersion KUBERNETES_EXEC_INFO asks for; ProtocolError when it is malformed."""
    raw = env.get("KUBERNETES_EXEC_INFO")
    if raw is None or not raw.strip():
        return V1BETA1
    if len(raw) > MAX_EXEC_INFO_CHARS:
        raise ProtocolError(f"KUBERNETES_EXEC_INFO is larger than {MAX_EXEC_INFO_CHARS} characters")
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("KUBERNETES_EXEC_INFO is not JSON",
                            hint="kubectl sets it; unset it to get a v1beta1 ExecCredential") from None
    if not isinstance(info, dict):
        raise ProtocolError("KUBERNETES_EXEC_INFO is not a JSON object")
    if info.get("kind", "ExecCredential") != "ExecCredential":
        raise ProtocolError(f"KUBERNETES_EXEC_INFO kind is {str(info.get('kind'))[:60]!r}, not ExecCredential")
    version = info.get("apiVersion")
    if version not in API_VERSIONS:
        shown = str(version)[:80] if version is not None else "missing"
        raise ProtocolError(f"KUBERNETES_EXEC_INFO apiVersion {shown!r} is not supported",
                            hint=f"use {V1} or {V1BETA1} in the kubeconfig exec entry")
    return version


def format_exec_credential(token, api_version):
    return json.dumps({"kind": "ExecCredential", "apiVersion": api_version, "spec": {},
                       "status": {"token": token.value, "expirationTimestamp": token.expiry_rfc3339()}})


def answer(args, env=os.environ):
    from credhelper import broker
    from credhelper.protocols import selection
    from credhelper.token import ACCESS_TOKEN

    api_version = requested_api_version(env)
    config = selection.load(args, env)
    profile = config.resolve(selection.profile_name(args, env))
    token = broker.get_token(profile, ACCESS_TOKEN, cache=selection.token_cache(config))
    return format_exec_credential(token, api_version) + "\n"


def run(args, env=os.environ):
    """Handler of `credhelper kubectl`: the ExecCredential whole on stdout; errors go to stderr
    through cli.run_handler."""
    text = answer(args, env)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


def configure(args, env=os.environ):
    """Handler of `credhelper configure kubectl --cluster NAME`: edits the kubeconfig with kubectl itself,
    so every other entry (and the file's format) is kept."""
    import subprocess

    from credhelper.protocols import selection

    config = selection.load(args, env)
    name = selection.profile_name(args, env)
    config.resolve(name)  # fail now, not at the first kubectl call
    argv = selection.self_command("kubectl", *selection.pinned_args(args, env))
    user = f"credhelper-{args.cluster}"
    kube = ["kubectl", "config"] + (["--kubeconfig", args.kubeconfig] if args.kubeconfig else [])
    steps = [
        [*kube, "set-credentials", user, f"--exec-command={argv[0]}", f"--exec-api-version={V1}",
         *[f"--exec-arg={a}" for a in argv[1:]], "--exec-interactive-mode=Never",
         "--exec-provide-cluster-info=false"],
        [*kube, "set-context", args.cluster, f"--cluster={args.cluster}", f"--user={user}"],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True)
        except FileNotFoundError:
            raise UsageError("kubectl is not installed (or not on PATH)") from None
        if done.returncode != 0:
            raise CredhelperError(f"{' '.join(step[:4])} ... failed: {done.stderr.strip()}")
    sys.stderr.write(f"credhelper: kubeconfig user {user} runs credhelper (profile {name}); context "
                     f"{args.cluster} uses it: kubectl config use-context {args.cluster}\n")
    return 0
