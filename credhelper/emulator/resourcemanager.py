"""Resource Manager projects.get, v1 and v3: what google-auth asks to learn a project's id from its number.

google.auth.default() with an external_account file (workload identity federation) knows only the
project number in the audience; it reads the project id from
GET cloudresourcemanager.googleapis.com/v1/projects/NUMBER. Both versions take an id or a number.
As Google does, an unknown project and a denied caller get the same 403. The emulator has no
project IAM policies: any live token with a cloud-platform scope may read a project.
"""

from credhelper.emulator.state import ApiError, created_stamp
from credhelper.emulator.wire import Response

SERVICE = "cloudresourcemanager.googleapis.com"
PERMISSION = "resourcemanager.projects.get"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",
          "https://www.googleapis.com/auth/cloud-platform.read-only",
          "https://www.googleapis.com/auth/cloudplatformprojects",
          "https://www.googleapis.com/auth/cloudplatformprojects.readonly")


def get_project_v1(state, req, name):
    project_id, number = _lookup(state, req, name, "google.cloudresourcemanager.v1.Projects.GetProject")
    return Response(200, {"projectNumber": number, "projectId": project_id, "lifecycleState": "ACTIVE",
                          "name": project_id, "createTime": created_stamp()})


def get_project_v3(state, req, name):
    project_id, number = _lookup(state, req, name, "google.cloud.resourcemanager.v3.Projects.GetProject")
    stamp = created_stamp()
    return Response(200, {"name": f"projects/{number}", "projectId": project_id, "state": "ACTIVE",
                          "displayName": project_id, "createTime": stamp, "updateTime": stamp, "etag": "W/\"1\""})


def _lookup(state, req, name, rpc_method):
    grant = state.authenticate(req.bearer(), SERVICE, rpc_method, SCOPES)
    project_id = name if name in state.world.projects else next(
        (pid for pid, number in state.world.projects.items() if number == name), None)
    resource = f"projects/{state.world.projects.get(project_id, name)}"
    if project_id is None:
        state.audit.record(SERVICE, PERMISSION, resource, grant.principal, grant.delegation,
                           [(resource, PERMISSION, False)], "PERMISSION_DENIED")
        raise ApiError(403, "PERMISSION_DENIED", "The caller does not have permission")
    state.audit.record(SERVICE, PERMISSION, resource, grant.principal, grant.delegation,
                       [(resource, PERMISSION, True)])
    return project_id, state.world.projects[project_id]
