"""One module per entry point, each with its own router (``routes``)."""
