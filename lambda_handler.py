"""The Lambda entry point: the app and its Mangum adapter are built once, at init."""

from mangum import Mangum

from app.main import create_app
from app.settings import get_settings

app = create_app(get_settings())
handler = Mangum(app, lifespan="off")
