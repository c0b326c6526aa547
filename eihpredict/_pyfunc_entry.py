"""MLflow "models from code" entry point: the model directory runs this file to build
the pyfunc wrapper, so no pickled Python class is loaded (only the fitted pipeline)."""

import mlflow.models

from eihpredict._pyfunc import EIHPyfuncModel

mlflow.models.set_model(EIHPyfuncModel())
