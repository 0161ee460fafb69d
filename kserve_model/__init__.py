"""Serving side: a custom KServe model scoring credit applications with an exported artifact.

Importing the package is cheap and starts nothing: kserve is imported only by the server module.
"""
