from ninja import NinjaAPI

api = NinjaAPI(title="Leadline API", version="1", urls_namespace="api")
