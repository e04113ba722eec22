"""Chapter 04: regularization."""
