"""Chapter 05: hyperparameter_search."""
