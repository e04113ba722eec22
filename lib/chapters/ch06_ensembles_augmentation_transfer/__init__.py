"""Chapter 06: ensembles, data augmentation, noise at training and averaging at test, transfer learning."""
