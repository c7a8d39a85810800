"""Campaigns: a hub, a published task and N researchers, run to a budget and reported.

    aar run --researchers 4 --budget-minutes 5 --dir campaigns/first   # the main job
    aar report campaigns/first                                           # its report again

``config`` holds what a campaign is (a TOML file, every field a flag), ``layout`` where it
keeps things, ``state`` what it has done so far (so ``--resume`` can go on), ``hubproc``
the hub it starts, ``executors`` where researchers run (local processes or Ray),
``supervisor`` the loop that watches them, ``verify`` and ``heldout`` the end-of-campaign
checks, and ``report`` the final page.
"""
