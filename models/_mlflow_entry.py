"""Models-from-code entry point: MLflow executes this file when it loads the churn pyfunc."""

from mlflow.models import set_model

from models.pyfunc import ChurnModel

set_model(ChurnModel())
