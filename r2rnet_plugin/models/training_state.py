"""The model's own part of BasicSR's training state, gathered from every mixin that keeps one.

A mixin defines ``training_state_part(self) -> dict`` and ``load_training_state_part(self, state)``.
:class:`ExtraTrainingState` calls those of every class in the model's MRO, so the parts saved do
not depend on the order of the bases or on each mixin calling ``super()``.
"""


class ExtraTrainingState:
    """``extra_training_state`` / ``load_extra_training_state``, as ``compat``'s checkpoint fix calls them."""

    def _state_parts(self, name):
        for cls in type(self).__mro__:
            method = cls.__dict__.get(name)
            if method is not None:
                yield method

    def extra_training_state(self):
        state = {}
        for part in self._state_parts('training_state_part'):
            state.update(part(self))
        return state

    def load_extra_training_state(self, state):
        for load in self._state_parts('load_training_state_part'):
            load(self, state)
