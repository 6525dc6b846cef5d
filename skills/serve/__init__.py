"""The Server agent's service skills: the web service, starting and checking it, sizing replicas,
the load test, the Dockerfile, Kubernetes manifests and API docs, and example inputs."""
