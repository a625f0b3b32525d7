"""Baseline (a): the smallest FastAPI + Mangum function: one small pydantic GET."""

from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel


class Hello(BaseModel):
    status: str
    service: str


app = FastAPI()


@app.get("/health", response_model=Hello)
async def health() -> Hello:
    return Hello(status="healthy", service="hello")


handler = Mangum(app, lifespan="off")
