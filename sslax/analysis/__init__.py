"""Analysing trained networks: what a network learned and how it solves the task."""
