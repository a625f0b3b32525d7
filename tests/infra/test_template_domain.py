"""template.yaml's optional custom domain (issue 21): absent keys change nothing; set, the API is at
the domain's root with its own TLS policy, and the outputs say where DNS must point. Read as
CloudFormation resolves the template for each config/<env>.env; what AWS checks beyond (the
certificate, DNS) is said in docs/deployment.md, Custom domain."""

import pytest

from devtools.cfn import Resolver, load_template
from tests.infra.deploy_config import ENVIRONMENTS, expected_overrides

TEMPLATE = load_template()
RESOURCES, OUTPUTS = TEMPLATE["Resources"], TEMPLATE["Outputs"]
DOMAIN_RESOURCES = {"ApiDomainName", "ApiBasePathMapping"}
DOMAIN_OUTPUTS = {"CustomDomainUrl", "CustomDomainTarget", "CustomDomainHostedZoneId"}
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
RULE = "CUSTOM_DOMAIN_NAME and CUSTOM_DOMAIN_CERTIFICATE_ARN go together"


def _with_domain(environment: str, **domain: str) -> Resolver:
    return Resolver(TEMPLATE, expected_overrides(environment) | domain)


def _references(value: object) -> set[str]:
    """Every logical id VALUE names in a Ref, GetAtt or ${...} of a Sub."""
    if isinstance(value, list):
        return set().union(*map(_references, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, argument in value.items():
        if key == "Ref" and isinstance(argument, str):
            found.add(argument.split(".")[0])
        elif key == "Fn::GetAtt":
            found.add(argument[0])
        elif key == "Fn::Sub":
            text = argument if isinstance(argument, str) else argument[0]
            found |= {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
        found |= _references(argument)
    return found


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_absent_keys_change_nothing(environment: str) -> None:
    resolver = Resolver(TEMPLATE, expected_overrides(environment))
    assert not resolver.condition("HasCustomDomain")
    for name in DOMAIN_RESOURCES:
        assert RESOURCES[name]["Condition"] == "HasCustomDomain", name
    for name in DOMAIN_OUTPUTS:
        assert OUTPUTS[name]["Condition"] == "HasCustomDomain", name
    # Nothing that exists without the domain depends on it.
    for name, spec in RESOURCES.items():
        if name not in DOMAIN_RESOURCES:
            assert not _references(spec) & DOMAIN_RESOURCES, name
    for name, spec in OUTPUTS.items():
        if name not in DOMAIN_OUTPUTS:
            assert not _references(spec) & DOMAIN_RESOURCES, name
    assert RULE not in " ".join(resolver.broken_rules())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_domain_serves_the_stage_at_its_root_with_the_apis_tls_policy(environment: str) -> None:
    resolver = _with_domain(
        environment, CustomDomainName="api.echoes.test", CustomDomainCertificateArn=CERTIFICATE
    )
    assert resolver.condition("HasCustomDomain") and resolver.broken_rules() == []
    domain = resolver.resolve(RESOURCES["ApiDomainName"]["Properties"])
    api = resolver.resolve(RESOURCES["Api"]["Properties"])
    assert domain["DomainName"] == "api.echoes.test"
    assert domain["RegionalCertificateArn"] == CERTIFICATE and "CertificateArn" not in domain
    assert (
        domain["EndpointConfiguration"]
        == {"Types": ["REGIONAL"]}
        == {"Types": [api["EndpointConfiguration"]["Type"]]}
    )
    # The same policy as the API's own endpoint: TLS 1.3 only, and the strict access mode an
    # enhanced policy needs.
    assert domain["SecurityPolicy"] == api["SecurityPolicy"] == "SecurityPolicy_TLS13_1_3_2025_09"
    assert domain["EndpointAccessMode"] == api["EndpointAccessMode"] == "STRICT"
    mapping = RESOURCES["ApiBasePathMapping"]["Properties"]
    assert mapping == {
        "DomainName": {"Ref": "ApiDomainName"},
        "RestApiId": {"Ref": "Api"},
        "Stage": {"Ref": "Api.Stage"},
    }, "the stage at the root: no BasePath"
    names = {"ApiDomainName": "api.echoes.test"}
    outputs = Resolver(
        TEMPLATE, expected_overrides(environment) | {"CustomDomainName": "api.echoes.test"}, names
    )
    assert outputs.resolve(OUTPUTS["CustomDomainUrl"]["Value"]) == "https://api.echoes.test"
    assert OUTPUTS["CustomDomainTarget"]["Value"] == {"Fn::GetAtt": ["ApiDomainName", "RegionalDomainName"]}
    assert OUTPUTS["CustomDomainHostedZoneId"]["Value"] == {
        "Fn::GetAtt": ["ApiDomainName", "RegionalHostedZoneId"]
    }


@pytest.mark.parametrize(
    "domain",
    [{"CustomDomainName": "api.echoes.test"}, {"CustomDomainCertificateArn": CERTIFICATE}],
    ids=["name-only", "certificate-only"],
)
def test_one_key_without_the_other_breaks_the_rule(domain: dict[str, str]) -> None:
    assert any(RULE in broken for broken in _with_domain("dev", **domain).broken_rules())


def test_the_parameters_refuse_what_api_gateway_would() -> None:
    import re

    parameters = TEMPLATE["Parameters"]
    name = re.compile(parameters["CustomDomainName"]["AllowedPattern"])
    certificate = re.compile(parameters["CustomDomainCertificateArn"]["AllowedPattern"])
    assert name.fullmatch("") and name.fullmatch("api.echoes.app") and name.fullmatch("a-b.c.example")
    for bad in ("API.echoes.app", "https://api.echoes.app", "api", "-api.echoes.app", "api.echoes.app/"):
        assert not name.fullmatch(bad), bad
    assert certificate.fullmatch("") and certificate.fullmatch(CERTIFICATE)
    assert not certificate.fullmatch("arn:aws:iam::123456789012:server-certificate/x")
