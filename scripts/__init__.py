"""Developer tooling: the process stack behind `make run` and the end-to-end tests."""
