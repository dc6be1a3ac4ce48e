"""The registry's schema as ordered migrations: each step is applied once, in order, and never
edited after release; `PRAGMA user_version` records how many have run."""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sqlite_utils import Database


def m001_functions(db: Database) -> None:
    db.table("functions").create(
        {
            "name": str,
            "created": float,
            "tags": str,  # JSON object
            "next_version": int,  # version numbers only grow, never reused
            "reserved_concurrency": int,
        },
        pk="name",
        not_null={"created", "tags", "next_version"},
        defaults={"tags": "{}", "next_version": 1},
    )
    # One row per version of a function; '$LATEST' is the mutable one (version_num 0).
    db.table("versions").create(
        {
            "function": str,
            "version": str,
            "version_num": int,
            "config": str,  # JSON: the stored FunctionConfiguration members
            "code_sha": str,  # hex sha256 of the zip in code/<sha>.zip
            "code_size": int,  # bytes, summed for the account's code storage
            "revision_id": str,
            "last_modified": str,
        },
        pk=("function", "version"),
        foreign_keys=[("function", "functions", "name")],
        not_null={"version_num", "config", "code_sha", "code_size", "revision_id", "last_modified"},
    )
    db.execute("CREATE INDEX versions_code_sha ON versions(code_sha)")
    # list-functions pages: $LATEST rows by name, and every version by (name, number).
    db.execute("CREATE INDEX versions_latest ON versions(version_num, function)")
    db.execute("CREATE UNIQUE INDEX versions_order ON versions(function, version_num)")


def m002_control_plane(db: Database) -> None:
    """Aliases, layers, resource policies, concurrency, async and URL configurations."""
    db.table("aliases").create(
        {
            "function": str,
            "name": str,
            "function_version": str,
            "description": str,
            "routing": str,  # JSON AdditionalVersionWeights, '{}' when none
            "revision_id": str,
        },
        pk=("function", "name"),
        foreign_keys=[("function", "functions", "name")],
        not_null={"function_version", "description", "routing", "revision_id"},
        defaults={"description": "", "routing": "{}"},
    )
    db.table("layers").create({"name": str, "next_version": int}, pk="name", defaults={"next_version": 1})
    db.table("layer_versions").create(
        {
            "layer": str,
            "version": int,
            "description": str,
            "created_date": str,
            "compatible_runtimes": str,  # JSON list
            "compatible_architectures": str,  # JSON list
            "license_info": str,
            "code_sha": str,
            "code_size": int,
            "unzipped_size": int,
            "deleted": int,  # deleted versions keep their content while functions use them
            "policy": str,  # JSON list of statements
            "policy_revision": str,
        },
        pk=("layer", "version"),
        foreign_keys=[("layer", "layers", "name")],
        not_null={"created_date", "code_sha", "code_size", "unzipped_size", "deleted", "policy"},
        defaults={"description": "", "compatible_runtimes": "[]", "compatible_architectures": "[]",
                  "deleted": 0, "policy": "[]"},
    )
    db.execute("CREATE INDEX layer_versions_code_sha ON layer_versions(code_sha)")
    # One resource policy per (function, qualifier); '' is the unqualified function.
    db.table("policies").create(
        {"function": str, "qualifier": str, "statements": str, "revision_id": str},
        pk=("function", "qualifier"),
        not_null={"statements", "revision_id"},
    )
    db.table("provisioned_concurrency").create(
        {"function": str, "qualifier": str, "requested": int, "status": str, "status_reason": str,
         "last_modified": str},
        pk=("function", "qualifier"),
        not_null={"requested", "status", "last_modified"},
    )
    db.table("event_invoke_configs").create(
        {"function": str, "qualifier": str, "config": str, "last_modified": float},
        pk=("function", "qualifier"),
        not_null={"config", "last_modified"},
    )
    db.table("url_configs").create(
        {"function": str, "qualifier": str, "url_id": str, "config": str, "creation_time": str,
         "last_modified_time": str},
        pk=("function", "qualifier"),
        not_null={"url_id", "config", "creation_time", "last_modified_time"},
    )
    db.execute("CREATE UNIQUE INDEX url_configs_url_id ON url_configs(url_id)")
    # Concurrency leases held by running invocations; a lease whose process is gone is stale.
    db.table("leases").create(
        {"id": str, "function": str, "pid": int, "host_boot": str, "acquired": float},
        pk="id",
        not_null={"function", "pid", "acquired"},
    )
    db.execute("CREATE INDEX leases_function ON leases(function)")


def m003_logs_and_metrics(db: Database) -> None:
    """Each invocation's log (START .. REPORT) and its metrics."""
    db.table("log_events").create(
        {
            "id": int,
            "log_group": str,
            "log_stream": str,
            "request_id": str,
            "timestamp": float,  # epoch seconds of the invocation's start
            "message": bytes,  # the framed log, bounded by the engine's output cap
        },
        pk="id",
        not_null={"log_group", "log_stream", "timestamp", "message"},
    )
    db.execute("CREATE INDEX log_events_group_time ON log_events(log_group, timestamp)")
    db.table("invocations").create(
        {
            "request_id": str,
            "function": str,
            "version": str,
            "timestamp": float,
            "duration_ms": float,
            "billed_ms": int,
            "init_ms": float,
            "max_memory_mb": int,
            "memory_mb": int,
            "status": str,  # success | error | timeout | crash | oom
            "error_type": str,
        },
        pk="request_id",
        not_null={"function", "version", "timestamp", "duration_ms", "status"},
    )
    db.execute("CREATE INDEX invocations_function_time ON invocations(function, timestamp)")


def m004_listing_text(db: Database) -> None:
    """Each version's list-functions item, pretty-printed as the CLI prints it, with
    FunctionArn's value left empty: a 10,000-function listing is then joined text, not 10,000
    parsed and re-serialized documents. Rows written before this step have NULL here and are
    rendered from `config` instead."""
    db.table("versions").add_column("listing", str)


def m005_log_sizes(db: Database) -> None:
    """Running byte counts of each log group's stored messages, kept in the transaction that
    inserts or trims events, so retention by size never sums the events table. The row with
    the empty name (no log group is named so) holds the total of all groups."""
    db.table("log_sizes").create({"log_group": str, "bytes": int}, pk="log_group", not_null={"bytes"})
    db.execute(
        "INSERT INTO log_sizes (log_group, bytes) "
        "SELECT log_group, SUM(length(message)) FROM log_events GROUP BY log_group"
    )
    db.execute("INSERT INTO log_sizes (log_group, bytes) SELECT '', COALESCE(SUM(bytes), 0) FROM log_sizes")


def m006_code_storage(db: Database) -> None:
    """The running total of code storage (every function version's zip and every live layer
    version's, as Lambda's shared "function and layer storage" quota counts them), kept by
    triggers in the transaction that writes the rows, so a quota check never sums the tables and
    no writer can forget it. Versions are written with INSERT OR REPLACE, whose implicit delete
    fires the delete trigger only where recursive_triggers is on (sqlite-utils turns it on, plain
    connections leave it off): the BEFORE INSERT trigger deletes the row about to be replaced
    itself, so the count is the same on every connection."""
    db.execute("CREATE TABLE code_storage (id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER NOT NULL)")
    db.execute(
        "INSERT INTO code_storage (id, bytes) SELECT 0, "
        "(SELECT COALESCE(SUM(code_size), 0) FROM versions) + "
        "(SELECT COALESCE(SUM(code_size), 0) FROM layer_versions WHERE deleted = 0)"
    )
    for statement in (
        """CREATE TRIGGER versions_storage_replace BEFORE INSERT ON versions BEGIN
             DELETE FROM versions WHERE function = NEW.function AND version = NEW.version;
           END""",
        """CREATE TRIGGER versions_storage_insert AFTER INSERT ON versions BEGIN
             UPDATE code_storage SET bytes = bytes + NEW.code_size;
           END""",
        """CREATE TRIGGER versions_storage_update AFTER UPDATE OF code_size ON versions BEGIN
             UPDATE code_storage SET bytes = bytes - OLD.code_size + NEW.code_size;
           END""",
        """CREATE TRIGGER versions_storage_delete AFTER DELETE ON versions BEGIN
             UPDATE code_storage SET bytes = bytes - OLD.code_size;
           END""",
        """CREATE TRIGGER layer_versions_storage_insert AFTER INSERT ON layer_versions BEGIN
             UPDATE code_storage SET bytes = bytes + (NEW.deleted = 0) * NEW.code_size;
           END""",
        """CREATE TRIGGER layer_versions_storage_update AFTER UPDATE OF deleted, code_size ON layer_versions
           BEGIN
             UPDATE code_storage SET bytes = bytes - (OLD.deleted = 0) * OLD.code_size
               + (NEW.deleted = 0) * NEW.code_size;
           END""",
        """CREATE TRIGGER layer_versions_storage_delete AFTER DELETE ON layer_versions BEGIN
             UPDATE code_storage SET bytes = bytes - (OLD.deleted = 0) * OLD.code_size;
           END""",
    ):
        db.execute(statement)


MIGRATIONS: list[Callable[[Database], None]] = [
    m001_functions, m002_control_plane, m003_logs_and_metrics, m004_listing_text, m005_log_sizes,
    m006_code_storage,
]
SCHEMA_VERSION = len(MIGRATIONS)
