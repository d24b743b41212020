"""Reading the project's YAML files (presets, neuron sets, sweeps, energy tables) with one-line errors."""

import yaml

from .errors import ConfigError

__all__ = ["read_yaml"]


def read_yaml(path, what):
    """The mapping in YAML file ``path``; `ConfigError` naming ``what`` if it is not valid YAML or not a mapping."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{what}: not valid YAML ({_yaml_problem(err)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: must hold a mapping")
    return data


def _yaml_problem(err):
    """A YAML parse error in one line: ``"line 3, column 7: mapping values are not allowed here"``."""
    mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(err).split())
