"""Chapter 01: optimizers."""
