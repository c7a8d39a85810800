"""The hub's LLM gateway: researchers call models through the hub, which holds the keys.

    aar serve --dir hub --gateway gateway.toml       # upstreams and fleet limits (``config``)

Modules: ``config`` (the TOML file: upstreams, fleet limits, prices), ``vendors`` (the
Anthropic and OpenAI wire formats: paths, errors, usage), ``ledger`` (who may call and what
each call cost, in the database), ``service`` (what a running hub holds), ``forward`` (one
call sent upstream, streamed or not, metered and stored). The endpoints are in
``aar.hub.routers.gateway``.
"""
