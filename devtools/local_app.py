"""What uvicorn serves locally: the deployed app, plus Swagger UI's assets (dev tooling only)."""

from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from devtools.local_stack import ASSETS_PATH
from lambda_handler import app

app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="local-swagger-ui")
