"""chainrule: backpropagation written out as the textbooks derive it — readable, exact, robust, fast."""

from .activations import Activation, leaky_relu
from .callbacks import Callback
from .diagnostics import DiagnosticWarning, Finding, diagnose
from .gradcheck import gradcheck
from .layers import Dense
from .network import Network, load
from .normalization import BatchNorm
from .optimizers import SGD, Adam, RMSprop
from .residual import Residual
from .schedules import CosineAnnealingLR, ExponentialLR, LearningRateScheduler, StepLR
from .sweeps import sweep
from .tabular import Model
from .tracing import trace
from .training import EarlyStopping, History

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Adam",
    "BatchNorm",
    "Callback",
    "CosineAnnealingLR",
    "Dense",
    "DiagnosticWarning",
    "EarlyStopping",
    "ExponentialLR",
    "Finding",
    "History",
    "LearningRateScheduler",
    "Model",
    "Network",
    "RMSprop",
    "Residual",
    "SGD",
    "StepLR",
    "diagnose",
    "gradcheck",
    "leaky_relu",
    "load",
    "sweep",
    "trace",
]
