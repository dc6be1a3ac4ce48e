"""lambdactl: AWS Lambda on your own machine, driven from the terminal."""

__version__ = "0.1.0"
