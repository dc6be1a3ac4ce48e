"""`python -m lambdactl`."""

from lambdactl.cli.main import main

raise SystemExit(main())
