"""Reading the predictor's decision records (`python -m audit`); the schema is credit_model.audit_record."""
