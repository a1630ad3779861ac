"""Reward test fixtures live in rewards_fixtures.py (a unique module name)."""

from rewards_fixtures import GOLDEN, Book, book, dezhou, golden_args

__all__ = ["GOLDEN", "Book", "book", "dezhou", "golden_args"]
