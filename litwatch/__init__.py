"""litwatch: a research-literature watcher for PubMed and ClinicalTrials.gov, stored in SQLite."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("litwatch")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from .config import Config, Topic, load_config  # noqa: E402
from .errors import LitwatchError  # noqa: E402

__all__ = ["Config", "Topic", "load_config", "LitwatchError", "__version__"]
