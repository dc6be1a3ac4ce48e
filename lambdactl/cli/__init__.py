"""The command-line face: parse flags, call the service, render the result. No business rules."""


def version_string() -> str:
    import platform
    import sys

    from .. import __version__

    return (
        f"lambdactl/{__version__} Python/{platform.python_version()} "
        f"{platform.system()}/{platform.release()} source/{sys.implementation.name}"
    )
