"""API Gateway compresses a response only when the function's own response has no
Content-Encoding (template.yaml, MinimumCompressionSize): the app must leave compression to it.
What the in-process client cannot show: API Gateway's gzip itself (docs/deployment.md)."""

from fastapi.testclient import TestClient


def test_the_app_never_compresses_so_api_gateway_can(client: TestClient) -> None:
    response = client.get("/openapi.json", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert len(response.content) > 1400, "large enough for API Gateway to compress"
    assert "content-encoding" not in response.headers
