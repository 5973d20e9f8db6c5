"""Built-in model families and shared building blocks, as i2i plugins (``i2i.plugins``).

Each module here is registered like a third-party plugin and uses only i2i's public API.
"""
