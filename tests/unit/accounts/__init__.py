"""Unit tests for accounts."""
