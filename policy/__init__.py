"""The lake's CrossGuard policy pack: rules as pure functions, wrapped for ``pulumi_policy``.

``policy/__main__.py`` serves the pack to the Pulumi CLI
(``pulumi preview --policy-pack policy``); the tests call the same policies' ``validate``
functions over the program's mocked resources (``tests/policy/test_policy_pack.py``).
Only the standard library and ``pulumi_policy`` are imported, so the pack runs anywhere.
"""
