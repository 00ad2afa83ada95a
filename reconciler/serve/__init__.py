"""``reconciler serve``: scheduled passes, Prometheus metrics, health probes, leader lease and
the lag gate. The composition root is :func:`reconciler.serve.app.build_app`."""
