"""Entry point of the component provider: serves the lake's components to any Pulumi language.

The schema (inputs, outputs, descriptions) is inferred by Pulumi from the components' typed
``Args`` and output annotations; ``tests/components/test_provider_schema.py`` checks it.
"""

from pulumi.provider.experimental import component_provider_host

# The plugin's virtualenv installs the library (requirements.txt), which puts the components
# under datalake.components.
from datalake.components import PROVIDER_NAME, PUBLIC_COMPONENTS

if __name__ == "__main__":
    component_provider_host(components=list(PUBLIC_COMPONENTS), name=PROVIDER_NAME)
