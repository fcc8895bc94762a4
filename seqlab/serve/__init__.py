"""``seqlab serve``: the tagger as an HTTP service with dynamic batching and an entity viewer page.

Needs the ``serve`` extra (``pip install -e ".[serve]"``: starlette and uvicorn). ``seqlab.serve.app``
is the service, ``seqlab.serve.requests`` what a request may hold, ``seqlab.serve.batching`` how
concurrent requests share the model, ``seqlab.serve.decoder`` the model in a process of its own.
"""
