"""Speed and memory goals, each measured as a ratio against a baseline in the same run."""
