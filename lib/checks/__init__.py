"""Exercise checks. Each chapter has a module (``lib.checks.ch01_optimizers`` …); ``lib.checks.core``
holds what they share. A check cell in a notebook is one line, e.g. ``checks.check_sgd(SGD)``."""
