"""eihpredict: predict impaired exercise-induced hypoalgesia (EIH).

Public API; heavy parts (training, explanations, tracking, the service) are imported
lazily by the functions that need them, so ``import eihpredict`` stays fast.
"""

from .schema import COLUMNS, CONTRACT_VERSION, contract_markdown, participant_model
from .simulate import SCENARIOS, simulate_cohort
from .validation import read_valid_cohort, validate_file, validate_frame

__version__ = "0.1.0"

__all__ = [
    "COLUMNS",
    "CONTRACT_VERSION",
    "SCENARIOS",
    "__version__",
    "contract_markdown",
    "participant_model",
    "read_valid_cohort",
    "simulate_cohort",
    "validate_file",
    "validate_frame",
]
