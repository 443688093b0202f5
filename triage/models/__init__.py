"""The trained model artifact and its training data and code."""
