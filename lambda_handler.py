"""The Lambda entry point: the app (built once, at init, by app.main) and its Mangum adapter."""

from mangum import Mangum

from app.main import app

handler = Mangum(app, lifespan="off")
