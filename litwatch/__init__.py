"""litwatch: a research-literature watcher for PubMed and ClinicalTrials.gov, stored in SQLite."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("litwatch")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from .config import Config, Topic, load_config  # noqa: E402
from .errors import LitwatchError  # noqa: E402
from .store import open_db  # noqa: E402



def frames(db):  # noqa: E302
    """The main tables and views of a litwatch database as pandas DataFrames; see
    :func:`litwatch.browse.frames`."""
    from .browse import frames as _frames

    return _frames(db)


__all__ = ["Config", "Topic", "load_config", "LitwatchError", "frames", "open_db", "__version__"]
