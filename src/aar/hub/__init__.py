"""The hub: the scoring server that holds the ground truth, and everything researchers share.

    from aar.hub.app import create_app
    from aar.hub.settings import HubSettings
    app = create_app(HubSettings(dir=Path("campaign")))

Run it with ``aar serve`` (TCP and/or a Unix socket); talk to it with ``aar.hub.client``.
Labels of the test set and of the pool live only in its database: no endpoint returns them,
researchers see rounded scores on the public half of the test set, within a budget, and
near-duplicate submissions are flagged as label probing.
"""
