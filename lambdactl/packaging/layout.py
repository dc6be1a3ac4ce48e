"""Where Lambda looks for things under /opt: the folders a layer's content must sit in.

Shared by the layer builder (to refuse a tree that is not laid out) and the linter (to warn
about a layer whose files no runtime will find). Constants only.
"""

from __future__ import annotations

# /opt/python, /opt/nodejs (module search paths), /opt/bin (PATH), /opt/lib (LD_LIBRARY_PATH),
# /opt/java/lib, /opt/ruby, /opt/extensions (started by Lambda), /opt/bootstrap (provided.*),
# and /opt/etc, /opt/share that bundled tools conventionally read.
LAYER_TOP_DIRS = frozenset({"python", "nodejs", "bin", "lib", "java", "ruby", "extensions",
                            "etc", "share", "bootstrap"})
