"""get-account-settings: the account's limits (from config.toml) and what this registry uses."""

from __future__ import annotations

from .. import limits

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from . import Service


def account_concurrency_limit(svc: Service) -> int:
    return int(svc.settings.get("concurrency.account_limit", limits.DEFAULT_ACCOUNT_CONCURRENCY))


def get_account_settings(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    from .concurrency import unreserved_concurrency

    conn = svc.conn
    (count,) = conn.execute("SELECT COUNT(*) FROM functions").fetchone()
    from .storage import code_storage_used

    code = code_storage_used(svc)  # deployment packages and layer archives, as AWS counts them
    limit = account_concurrency_limit(svc)
    return {
        "AccountLimit": {
            "TotalCodeSize": limits.MAX_CODE_STORAGE_BYTES,
            "CodeSizeUnzipped": limits.MAX_UNZIPPED_BYTES,
            "CodeSizeZipped": limits.MAX_ZIPPED_UPLOAD_BYTES,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": unreserved_concurrency(svc, conn),
        },
        "AccountUsage": {"TotalCodeSize": int(code), "FunctionCount": int(count)},
    }
