"""`lambdactl __complete functions|qualifiers [FUNCTION] [--home DIR]`: names for the shell
completions, read straight from the registry (read-only, no service, no Typer), one a line.

Hidden from help: the generated completion scripts call it while the user presses TAB, so it
must be quick and silent; any problem (no registry yet, a locked or damaged one) prints nothing.
"""

from __future__ import annotations

import os
import sqlite3

QUERIES = {
    "functions": ("SELECT name FROM functions ORDER BY name", 0),
    # versions and aliases of one function: what --qualifier and alias --name take
    "qualifiers": ("SELECT version FROM versions WHERE function = ? UNION ALL "
                   "SELECT name FROM aliases WHERE function = ?", 2),
}


def complete(args: list[str]) -> int:
    home = None
    if "--home" in args:
        at = args.index("--home")
        home = args[at + 1] if at + 1 < len(args) else None
        args = args[:at] + args[at + 2:]
    if not args or args[0] not in QUERIES:
        return 0
    sql, binds = QUERIES[args[0]]
    if binds and len(args) < 2:
        return 0
    try:
        from ..settings import resolve_home

        path = os.path.join(resolve_home(home), "registry.db")
        if not os.path.exists(path):
            return 0
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5)
        try:
            rows = conn.execute(sql, (args[1],) * binds if binds else ()).fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, OSError, ValueError):
        return 0
    print("\n".join(str(r[0]) for r in rows))
    return 0
