"""Build and lint Lambda deployment zips; check uploads the way Lambda does.

`build` writes reproducible zips, `lint` + `rules` find what would make Lambda (or the function at
run time) reject a package, `validate` holds the checks the service applies on upload and a safe
extractor. Standard library only: the CLI and the service both import this.
"""
