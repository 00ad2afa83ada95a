"""Development tools: the embedded moto table, the local event source mapping (pump) and the demo.

Nothing in production imports these; they sit above every component and reuse the real
handler, pass and ``serve`` wiring so that what the demo shows is what runs in AWS.
"""
