"""A virtual neighbourhood: simulated homes behind one transformer, with or without control."""
