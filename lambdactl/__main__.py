"""`python -m lambdactl`."""

from lambdactl.cli.main import entry

entry()
