"""Prefect flows: one module per stage flow, each with its command line: python -m flows.<name>.

Importing the package points each tool's home at ``CHURN_HOME`` unless it is already set
(``core.homes``), so a flow run by hand writes nothing to the user's home directory.
"""

from core.homes import point_tool_homes

point_tool_homes()
