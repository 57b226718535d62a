"""Reusable building blocks of the churn system: typed functions with thin Prefect wrappers."""
