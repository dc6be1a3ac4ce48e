"""The Lambda service: every API operation as a plain call taking and returning API-shaped dicts.

`Service.call("GetFunctionConfiguration", {"FunctionName": "f"})` is what both the CLI and the HTTP
server do; neither holds a business rule. Operation modules are imported on first use so a CLI
command pays only for the code it runs. What a caller lends the service (warm environments, a
lease cache, a batching log sink, signing keys) is passed to the constructor, typed by the
Protocols of `ports.py`.
"""

from __future__ import annotations

import importlib
import sqlite3
import time
from collections.abc import Callable

from ..errors import LambdaError
from ..settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..sigv4 import Keys
    from .ports import Leases, LogSink, WarmEnvironments

# API operation name -> (module under lambdactl.service, function name)
OPERATIONS: dict[str, tuple[str, str]] = {
    "CreateFunction": ("functions", "create_function"),
    "GetFunction": ("functions", "get_function"),
    "GetFunctionConfiguration": ("functions", "get_function_configuration"),
    "ListFunctions": ("functions", "list_functions"),
    "UpdateFunctionCode": ("functions", "update_function_code"),
    "UpdateFunctionConfiguration": ("functions", "update_function_configuration"),
    "DeleteFunction": ("functions", "delete_function"),
    "TagResource": ("tags", "tag_resource"),
    "UntagResource": ("tags", "untag_resource"),
    "ListTags": ("tags", "list_tags"),
    "GetAccountSettings": ("account", "get_account_settings"),
    "Invoke": ("invoke", "invoke"),
    # versions and aliases
    "PublishVersion": ("versions", "publish_version"),
    "ListVersionsByFunction": ("versions", "list_versions_by_function"),
    "CreateAlias": ("aliases", "create_alias"),
    "GetAlias": ("aliases", "get_alias"),
    "UpdateAlias": ("aliases", "update_alias"),
    "DeleteAlias": ("aliases", "delete_alias"),
    "ListAliases": ("aliases", "list_aliases"),
    # layers
    "PublishLayerVersion": ("layers", "publish_layer_version"),
    "GetLayerVersion": ("layers", "get_layer_version"),
    "GetLayerVersionByArn": ("layers", "get_layer_version_by_arn"),
    "ListLayerVersions": ("layers", "list_layer_versions"),
    "ListLayers": ("layers", "list_layers"),
    "DeleteLayerVersion": ("layers", "delete_layer_version"),
    "AddLayerVersionPermission": ("layers", "add_layer_version_permission"),
    "GetLayerVersionPolicy": ("layers", "get_layer_version_policy"),
    "RemoveLayerVersionPermission": ("layers", "remove_layer_version_permission"),
    # resource policies
    "AddPermission": ("policy", "add_permission"),
    "GetPolicy": ("policy", "get_policy"),
    "RemovePermission": ("policy", "remove_permission"),
    # concurrency, async and URL configuration
    "PutFunctionConcurrency": ("concurrency", "put_function_concurrency"),
    "GetFunctionConcurrency": ("concurrency", "get_function_concurrency"),
    "DeleteFunctionConcurrency": ("concurrency", "delete_function_concurrency"),
    "PutProvisionedConcurrencyConfig": ("concurrency", "put_provisioned_concurrency_config"),
    "GetProvisionedConcurrencyConfig": ("concurrency", "get_provisioned_concurrency_config"),
    "DeleteProvisionedConcurrencyConfig": ("concurrency", "delete_provisioned_concurrency_config"),
    "ListProvisionedConcurrencyConfigs": ("concurrency", "list_provisioned_concurrency_configs"),
    "PutFunctionEventInvokeConfig": ("invoke_config", "put_function_event_invoke_config"),
    "UpdateFunctionEventInvokeConfig": ("invoke_config", "update_function_event_invoke_config"),
    "GetFunctionEventInvokeConfig": ("invoke_config", "get_function_event_invoke_config"),
    "DeleteFunctionEventInvokeConfig": ("invoke_config", "delete_function_event_invoke_config"),
    "ListFunctionEventInvokeConfigs": ("invoke_config", "list_function_event_invoke_configs"),
    "CreateFunctionUrlConfig": ("urls", "create_function_url_config"),
    "GetFunctionUrlConfig": ("urls", "get_function_url_config"),
    "UpdateFunctionUrlConfig": ("urls", "update_function_url_config"),
    "DeleteFunctionUrlConfig": ("urls", "delete_function_url_config"),
    "ListFunctionUrlConfigs": ("urls", "list_function_url_configs"),
}

# Operations of lambdactl itself, which the server calls through the same door but no client can
# name: they are not in the API model, so no route, command or protocol entry exists for them.
# - Provision: start the environments provisioned-concurrency configs ask for ({"FunctionName"}
#   or all functions), in the service's warm environments;
# - InvokeFunctionUrl: answer one HTTP request to a function URL as Lambda's URL front end does.
INTERNAL_OPERATIONS: dict[str, tuple[str, str]] = {
    "lambdactl:Provision": ("concurrency", "provision"),
    "lambdactl:InvokeFunctionUrl": ("function_urls", "invoke_function_url"),
}
# Operations after which warm or provisioned environments (and kept leases) follow the registry.
ENVIRONMENT_CHANGES = frozenset({
    "DeleteFunction", "PutProvisionedConcurrencyConfig", "DeleteProvisionedConcurrencyConfig",
    "PutFunctionConcurrency", "DeleteFunctionConcurrency",
})


class Service:
    """One Lambda service bound to one home; holds the registry connection and the clock.

    `host_paths`: whether requests may name folders of this machine (`CodeDir`). Only the local
    CLI, acting in the user's own process, passes True; a server never does, so no HTTP caller (a
    function in a sandbox among them) can make a function of a host folder. `endpoint_url`: where
    the server this service answers for listens; environments get it as AWS_ENDPOINT_URL and code
    download links name it (None: not under `serve`; links name the configured address).

    Collaborators (None: the CLI's direct way): `environments`, warm environments that invocations
    draw on and provisioned concurrency fills (else one sandbox per invocation, none provisioned);
    `leases`, a cache of concurrency leases (else each invocation takes one from the registry);
    `log_sink`, a batching writer of invocation logs (else written at once); `keys`, who may sign
    requests to function URLs with AuthType AWS_IAM (else built from the home and config.toml).
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time, *, host_paths: bool = False,
                 endpoint_url: str | None = None, environments: WarmEnvironments | None = None,
                 leases: Leases | None = None, log_sink: LogSink | None = None, keys: Keys | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.host_paths = host_paths
        self.endpoint_url = endpoint_url
        self.environments = environments
        self.leases = leases
        self.log_sink = log_sink
        self.keys = keys
        self._conn: sqlite3.Connection | None = None

    def sibling(self) -> Service:
        """A service like this one with its own registry connection (for another thread)."""
        return Service(self.settings, self.clock, host_paths=self.host_paths, endpoint_url=self.endpoint_url,
                       environments=self.environments, leases=self.leases, log_sink=self.log_sink, keys=self.keys)

    def signing_keys(self) -> Keys:
        """Who may sign a request: config.toml's keys and every function's own credentials."""
        if self.keys is None:
            from .. import sigv4
            from .access import Keychain, home_secret

            self.keys = Keychain(home_secret(self.settings), sigv4.credentials(self.settings.get("server.credentials")))
        return self.keys

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            from ..registry.db import connect

            self._conn = connect(self.settings.registry_path)
        return self._conn

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def account_id(self) -> str:
        return self.settings.account_id

    def call(self, operation: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            module_name, func_name = OPERATIONS[operation]
        except KeyError:
            if operation not in INTERNAL_OPERATIONS:
                raise LambdaError("InvalidParameterValueException", f"Unknown operation {operation}") from None
            module_name, func_name = INTERNAL_OPERATIONS[operation]
        if request:
            from ._validate import check_request

            check_request(request)
        module = importlib.import_module(f"{__name__}.{module_name}")
        changes = self._conn.total_changes if self._conn is not None else 0
        try:
            result: dict[str, Any] = getattr(module, func_name)(self, request or {})
        except (sqlite3.Error, OSError) as exc:
            explained = self.storage_error(exc)
            if explained is exc:
                raise
            raise explained from exc
        if self._conn is not None and self._conn.total_changes != changes:
            from ..registry.db import maybe_backup

            maybe_backup(self._conn, self.settings.registry_path)
        if operation in ENVIRONMENT_CHANGES and (self.environments is not None or self.leases is not None):
            from .concurrency import follow_change

            follow_change(self, operation, request or {})
        return result

    def storage_error(self, exc: BaseException) -> BaseException:
        """A failure of the registry's storage (damage, a full disk, a read-only or missing home)
        as a ServiceException naming the file and what to do; any other error unchanged."""
        from ..registry.db import explain

        message = explain(exc, self.settings.registry_path)
        if message is None:
            return exc
        if self._conn is not None and not isinstance(exc, OSError):
            self.close()  # a connection that met damage is not used again
        return LambdaError("ServiceException", message, 500)

    def unchanged(self) -> bool:
        """Whether this service has written no row to the registry (nothing to make durable)."""
        return self._conn is None or self._conn.total_changes == 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
