"""Checkpoints as named components: everything a run needs to continue, saved and restored one way."""

import numpy as np

__all__ = ["Checkpoint", "EventLedger"]


class Checkpoint:
    """A run's resumable state: named components, each an object with ``state()`` and ``load(dict)``.

    A component's arrays are stored under ``<name>_<key>`` in one flat ``checkpoint.npz``;
    a component added with ``name=None`` stores its keys as they are (the frame session
    and the games, whose keys already say what they are). ``state`` and ``restore`` are
    mirror images, so a component is saved and restored the same way.
    """

    def __init__(self):
        self._parts = []

    def add(self, name, component, state="state", load="load"):
        """Register ``component`` (its ``state``/``load`` methods may have other names); returns it."""
        self._parts.append((name, getattr(component, state), getattr(component, load)))
        return component

    def state(self, **scalars):
        """One flat dict of arrays: every component's state, plus ``scalars`` (``game=12``, ...)."""
        out = {}
        for name, get, _ in self._parts:
            part = get()
            out.update(part if name is None else {f"{name}_{k}": v for k, v in part.items()})
        out.update({k: np.asarray(v) for k, v in scalars.items()})
        return out

    def restore(self, state):
        """Load every component from a `state` result (for example a run's ``checkpoint.npz``)."""
        for name, _, load in self._parts:
            if name is None:
                load(state)
            else:
                prefix = f"{name}_"
                load({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})


class EventLedger:
    """The chip events counted so far, and the game from which they were counted.

    Checkpoints written before event counting existed hold no counts: a run resumed
    from one counts from the game it resumes at (`from_game`).
    """

    def __init__(self, counter, from_game):
        self.counter, self.from_game = counter, int(from_game)

    def state(self):
        return dict(self.counter.state(), from_game=np.array(self.from_game))

    def load(self, state):
        if self.counter.load(state):
            self.from_game = int(state["from_game"])
