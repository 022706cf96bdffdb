"""User-facing errors: each message says what is wrong and what to do. The CLI and UI print them without a traceback."""


class RagError(Exception):
    """Base class for every error a user should see as one clear line."""


class ConfigError(RagError):
    """A setting has a bad value."""


class ModelMissingError(RagError):
    """A bundled model file or the package that ships it is missing or corrupt."""


class IndexMissingError(RagError):
    """There is no index yet, or it is empty."""


class StoreUnavailableError(RagError):
    """The Chroma store cannot be opened or reached."""


class BackendUnavailableError(RagError):
    """The language-model backend cannot be loaded or reached, or answered garbage."""


class BadInputError(RagError):
    """A question or a document cannot be used as given."""
