"""In-memory fakes of the project's ports, for unit tests."""
