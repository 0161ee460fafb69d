"""Training side: fits the credit model and writes the artifact that serving reads.

Importing the package imports nothing heavy; torch, pandas and mlflow load in the modules
that need them (serving imports `artifact`, `transform` and `scoring` without them).
"""
