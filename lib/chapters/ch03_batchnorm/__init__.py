"""Chapter 03: batchnorm."""
