"""The campaign runner: a warm process that runs broadcast flows handed to it over RabbitMQ.

``clarion campaign send`` spends most of its time before the first delivery importing Prefect
and the flow (seconds, once per call).  ``clarion up`` starts a runner that has imported them
already; the CLI checks the request, hands it to the runner's queue and follows the campaign
in the database, as before.  The flow run is the same one — on the stack's Prefect server, in
its UI and history — only its process is warm.  Without a runner the CLI runs the flow in its
own process, as it always did.

    protocol.py   the queue, the request and the replies
    service.py    the runner process (``clarion runner``)
    client.py     the CLI's side: hand a request over, follow the replies
"""
