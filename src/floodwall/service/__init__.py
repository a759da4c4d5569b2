"""Floodwall as a service: the processes (serve, worker, coordinator) and every HTTP route and page."""
