"""The support desk's tagging convention, on top of the tags the library sets itself."""

COST_CENTER = "support-analytics"
"""Where the lake's AWS bill goes."""


def desk_tags(environment: str) -> dict[str, str]:
    """Tags on every resource of this project's lake (the provider's default tags)."""
    return {"cost-center": COST_CENTER, "data-owner": "support-desk", "stage": environment}
