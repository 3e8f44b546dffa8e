"""The REST API: one NinjaAPI assembling each domain's router."""

from ninja import NinjaAPI

api = NinjaAPI(title="Tonne registry API", version="1.0.0", urls_namespace="api-v1")
