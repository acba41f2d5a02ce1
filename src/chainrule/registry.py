"""Registries of names: one per kind of thing (activations, losses), each name mapping to one class."""

__all__ = ["registrar"]


def registrar(registry, base):
    """The ``register(cls)`` of a registry {name: class}: it adds a subclass of ``base`` under its
    ``name`` and returns it, so that it can decorate the class."""

    def register(cls):
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ValueError(f"register takes a {base.__name__} subclass, got {cls!r}")
        if not isinstance(cls.name, str) or not cls.name:
            raise ValueError(f"{cls.__name__} needs a class attribute name, a non-empty string")
        registry[cls.name] = cls
        return cls

    article = "an" if base.__name__[0] in "AEIOU" else "a"
    register.__doc__ = (f"Make {article} {base.__name__} subclass known by its ``name`` (the CLI, trace specs, saved "
                        "models); returns the class, so that it can decorate one. Its constructor must take "
                        "no required argument.")
    return register
