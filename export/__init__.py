"""i2i subpackage."""
