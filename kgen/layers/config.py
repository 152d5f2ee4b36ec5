"""The config of a kgen layer: the arguments of its constructor, read back from the attributes of the same names."""

import inspect

import keras


def constructor_arguments(cls):
    """The named arguments of the `__init__` of `cls` and of its bases up to `ArgumentConfig`, in order."""
    names = []
    for klass in cls.__mro__:
        if klass is ArgumentConfig:
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            named = param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
            if named and param.name != "self" and param.name not in names:
                names.append(param.name)
    return tuple(names)


class ArgumentConfig:
    """Mixin for a Keras layer whose `get_config` is its base config plus its constructor arguments.

    Every named argument of the layer's `__init__` (and of the `__init__` of its bases that use this mixin) is read
    from the attribute of the same name, so a layer keeps each argument, validated, under its own name; initializers
    (anything `keras.initializers.get` made) are serialized, everything else is stored as it is. Put the mixin
    before the Keras base class: `class KSparse(ArgumentConfig, keras.layers.Layer)`.
    """

    def get_config(self):
        config = super().get_config()
        for name in constructor_arguments(type(self)):
            value = getattr(self, name)
            if isinstance(value, keras.initializers.Initializer):
                value = keras.initializers.serialize(value)
            config[name] = value
        return config


def same_shape(layer, input_shape):
    """`compute_output_shape` of a layer whose output has its input's shape."""
    return tuple(input_shape)
