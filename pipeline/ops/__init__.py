"""Operator actions: producing and reading topics from files, replaying dead letters, erasing
a customer."""
