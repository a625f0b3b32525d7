"""Baseline (b): baseline (a) plus DynamoDB and S3 clients created at import: the smallest
realistic app."""

import boto3
from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel

dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3")


class Hello(BaseModel):
    status: str
    service: str


app = FastAPI()


@app.get("/health", response_model=Hello)
async def health() -> Hello:
    return Hello(status="healthy", service="hello")


handler = Mangum(app, lifespan="off")
