"""Caller protocols: each module reads its client's input, picks a profile, asks the broker for a
Token and answers in the client's own format, with errors where that client reads them.

  executable.py  Google executable-sourced credentials (external_account): JSON on stdout, nothing on stderr
  git.py         git credential helper: key=value lines; errors on stderr
  docker.py      docker credential helper: JSON on stdout; errors on stdout, as docker reads them
  kubectl.py     kubectl exec credential plugin: ExecCredential JSON; errors on stderr
  selection.py   what they share: profile selection order, the token cache, how to run credhelper

None of them imports keyring or google-auth: the broker does, and only when it has to mint.
"""
