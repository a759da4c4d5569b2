"""Graphs across rooms and accounts: content clusters, account rings, union-find; what a partition sends and hears."""
