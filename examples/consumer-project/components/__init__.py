"""This project's own components: its name does not clash with the library's, which the wheel
installs as ``datalake.components``."""
