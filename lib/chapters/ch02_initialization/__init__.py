"""Chapter 02: initialization."""
