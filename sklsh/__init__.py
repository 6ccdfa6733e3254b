"""sklsh: hashing-based sparse neural networks as scikit-learn estimators."""
from ._classes import LSHMLPClassifier, LSHMLPRegressor

__version__ = "0.1.0"
__all__ = ["LSHMLPClassifier", "LSHMLPRegressor", "__version__"]
