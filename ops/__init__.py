"""The local platform and the command lines around the flows: the Prefect server per home
(``server``), ``make up/down`` supervision (``platform``), deployments and automations
(``deploy``, ``automations``), the flows' CLI helper, parameter types and runtime (``cli``,
``params``, ``runtime``). Flows import this package; it never imports a flow.

Importing it points each tool's home at ``CHURN_HOME`` (``core.homes``), like ``flows``.
"""

from core.homes import point_tool_homes

point_tool_homes()
