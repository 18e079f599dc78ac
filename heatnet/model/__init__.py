"""The network MIP: prepared numbers, Pyomo builders, honest pricing, infeasibility reasons."""

from heatnet.model.build import build_model
from heatnet.model.data import ModelData, prepare
from heatnet.model.evaluate import Design, evaluate

__all__ = ["Design", "ModelData", "build_model", "evaluate", "prepare"]
