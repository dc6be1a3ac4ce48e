"""The local registry: SQLite tables and content-addressed blobs under LAMBDACTL_HOME.

It stores and fetches rows; it knows nothing of validation, API shapes or the faces.
"""
