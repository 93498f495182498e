"""The one error type for input that cannot be saved (settings, forms, mall accounts, routing)."""


class InvalidInput(ValueError):
    """Input refused as a whole; `errors` maps field name → Japanese message. Nothing was saved."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
