"""The data behind a registered model, whichever it is: ``churn-model`` (the built-in CRM,
billing and helpdesk sources) or a declared source's ``churn-<name>``.

Monitoring, batch scoring and retraining take a model name and ask this package for what they
need — the model's feature columns and definitions hash, its data watermark, its population at
the latest data looked up in its online store, its labels and past cutoffs, point-in-time features
— instead of switching global settings. ``model_data`` resolves a name; ``steps`` wraps it.
Importing this package connects to nothing and reads no file.
"""

from tasks.modeldata.base import LabelsUnavailableError, ModelData, is_builtin, model_data

__all__ = ["LabelsUnavailableError", "ModelData", "is_builtin", "model_data"]
