"""Progressive delivery of credit-score model versions: metric-gated canary analysis,
promotion and rollback through Helm values, and shadow comparison. See rollout/__main__.py."""
