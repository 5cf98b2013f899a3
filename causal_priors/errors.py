"""User-facing errors: bad input the user can fix. The CLI prints them as one line and exits with code 2."""


class UserError(ValueError):
    """Base class: the message names the key/file/id and what was expected."""


class ConfigError(UserError):
    """A config key, value or file is wrong."""


class EnvIdError(UserError):
    """Unknown environment id or wrapper option."""


class DataError(UserError):
    """A data file is missing or malformed."""


class TrainingError(RuntimeError):
    """Training diverged (e.g. NaN losses); the message names the step and the metric."""
