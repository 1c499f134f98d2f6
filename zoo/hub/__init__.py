"""From a registered name to a model people can use: building, published weights, downloads.

Like timm's `_builder.py` and `_hub.py`: `create_model` builds from the registry (with the
published weights if asked), `weights.py` reads the typed entries, `download.py` fetches and caches.
"""

from zoo.hub.builder import create_model
from zoo.hub.weights import Weights, get_weights, list_weights

__all__ = ["Weights", "create_model", "get_weights", "list_weights"]
