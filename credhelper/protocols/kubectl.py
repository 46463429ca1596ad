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

import os
import sys

from credhelper import jsontext
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
        info = jsontext.loads(raw)
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
    return jsontext.dumps({"kind": "ExecCredential", "apiVersion": api_version, "spec": {},
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
    so every other entry (and the file's format) is kept. The cluster must exist in the kubeconfig;
    the exec command is always an absolute path."""
    from credhelper.protocols import selection

    config = selection.load(args, env)
    name = selection.profile_name(args, env)
    config.resolve(name)  # fail now, not at the first kubectl call
    kube = ["kubectl", "config"] + (["--kubeconfig", args.kubeconfig] if args.kubeconfig else [])
    files = kubeconfig_files(args, env)
    clusters = _kubectl(env, *kube, "get-clusters").splitlines()[1:]  # the first line is the NAME header
    if args.cluster not in clusters:
        existing = [f for f in files if os.path.exists(f)]
        if not existing:
            raise UsageError(f"no kubeconfig at {os.pathsep.join(files)}, so no cluster {args.cluster!r}",
                             hint="add the cluster first (e.g. gcloud container clusters get-credentials, or "
                                  "kubectl config set-cluster NAME --server=URL), or name the file with --kubeconfig")
        known = ", ".join(sorted(clusters)) if clusters else "none"
        raise UsageError(f"the kubeconfig ({os.pathsep.join(existing)}) has no cluster {args.cluster!r}; "
                         f"its clusters: {known}", hint="choose one of them with --cluster")
    argv = selection.self_command("kubectl", *selection.pinned_args(args, env))
    user = f"credhelper-{args.cluster}"
    _kubectl(env, *kube, "set-credentials", user, f"--exec-command={argv[0]}", f"--exec-api-version={V1}",
             *[f"--exec-arg={a}" for a in argv[1:]], "--exec-interactive-mode=Never",
             "--exec-provide-cluster-info=false")
    _kubectl(env, *kube, "set-context", args.cluster, f"--cluster={args.cluster}", f"--user={user}")
    for path in files:
        absolute_exec_command(path, argv[0])
    sys.stderr.write(f"credhelper: kubeconfig user {user} runs {argv[0]} (profile {name}); context "
                     f"{args.cluster} uses it: kubectl config use-context {args.cluster}\n")
    return 0


def kubeconfig_files(args, env=os.environ):
    """The files kubectl reads and writes: --kubeconfig, else $KUBECONFIG's list, else ~/.kube/config."""
    if args.kubeconfig:
        return [os.path.abspath(os.path.expanduser(args.kubeconfig))]
    listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    return [os.path.abspath(os.path.expanduser(p)) for p in listed] or [
        os.path.join(os.path.expanduser("~"), ".kube", "config")]


def _kubectl(env, *argv):
    import subprocess

    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, env=dict(env))
    except FileNotFoundError:
        raise UsageError("kubectl is not installed (or not on PATH)") from None
    if done.returncode != 0:
        raise CredhelperError(f"{' '.join(argv[:4])} ... failed: {done.stderr.strip()}")
    return done.stdout


def absolute_exec_command(path, command):
    """kubectl writes an exec command under the kubeconfig's directory relative to it: put the
    absolute path back, so the entry does not depend on where the kubeconfig lives.

    Every `command:` line naming exactly that relative path is rewritten (it denotes the same file);
    the value is written as a JSON string, which YAML reads as a double-quoted scalar."""
    relative = os.path.relpath(command, os.path.dirname(path))
    if relative.startswith(".."):
        return
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return
    spellings = {relative, jsontext.dumps(relative), f"'{relative}'"}
    lines = text.splitlines(keepends=True)
    changed = False
    for i, line in enumerate(lines):
        key, sep, value = line.rstrip("\r\n").partition("command: ")
        if sep and not key.strip("- ") and value in spellings:
            lines[i] = f"{key}command: {jsontext.dumps(command)}\n"
            changed = True
    if changed:
        from credhelper.protocols import selection

        selection.replace_file(path, "".join(lines))
