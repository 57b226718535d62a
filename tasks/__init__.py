"""Reusable building blocks of the churn system: typed functions with thin Prefect wrappers.

``core`` is imported first, whichever task module a process imports: it sets the OpenMP wait
policy before any module here loads xgboost or scikit-learn's OpenMP runtime.
"""

import core  # noqa: F401
