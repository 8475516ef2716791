"""Code that runs in AWS (Lambda handlers, the ECS container, Spark job entrypoints).

Never imports pulumi: components bundle these files as deterministic assets.
"""
