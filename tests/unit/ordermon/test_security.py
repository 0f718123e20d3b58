"""Kafka TLS and SASL settings: validation, and the mapping to aiokafka and Faust."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import faust
import pytest

from ordermon.app import faust_options
from ordermon.config import ConfigError, Settings
from ordermon.security import broker_credentials, client_options

ROOT = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-Pa55word-xyzzy"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A self-signed CA certificate and key (it serves as the client certificate too)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=ordermon-test", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return {"ca": str(cert), "cert": str(cert), "key": str(key)}


def sasl_env(**extra: str) -> dict[str, str]:
    return {
        "ORDERMON_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "ORDERMON_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "ORDERMON_KAFKA_USERNAME": "monitor",
        "ORDERMON_KAFKA_PASSWORD": SECRET,
        **extra,
    }


def test_plaintext_is_the_default_and_maps_to_nothing_special() -> None:
    s = Settings.from_env({})
    assert s.kafka_security_protocol == "PLAINTEXT"
    assert client_options(s) == {"security_protocol": "PLAINTEXT"}
    assert broker_credentials(s) is None
    assert faust_options(s)["broker_credentials"] is None


def test_sasl_plaintext_maps_to_aiokafka_and_faust() -> None:
    s = Settings.from_env(sasl_env())
    assert client_options(s) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "monitor",
        "sasl_plain_password": SECRET,
    }
    creds = broker_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol.value == "SASL_PLAINTEXT"
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert (creds.username, creds.password, creds.ssl_context) == ("monitor", SECRET, None)
    assert SECRET not in repr(creds)


def test_sasl_ssl_carries_a_verifying_tls_context(pki: dict[str, str]) -> None:
    s = Settings.from_env(
        sasl_env(
            ORDERMON_KAFKA_SECURITY_PROTOCOL="sasl_ssl",  # case does not matter
            ORDERMON_KAFKA_SASL_MECHANISM="plain",
            ORDERMON_KAFKA_CA_FILE=pki["ca"],
        )
    )
    options = client_options(s)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "PLAIN"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any("ordermon-test" in str(c.get("subject")) for c in context.get_ca_certs())
    creds = broker_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol.value == "SASL_SSL" and creds.ssl_context is not None


def test_ssl_with_a_client_certificate(pki: dict[str, str]) -> None:
    s = Settings.from_env(
        {
            "ORDERMON_KAFKA_SECURITY_PROTOCOL": "SSL",
            "ORDERMON_KAFKA_CA_FILE": pki["ca"],
            "ORDERMON_KAFKA_CERT_FILE": pki["cert"],
            "ORDERMON_KAFKA_KEY_FILE": pki["key"],
        }
    )
    options = client_options(s)
    assert set(options) == {"security_protocol", "ssl_context"}
    assert options["security_protocol"] == "SSL"
    creds = broker_credentials(s)
    assert isinstance(creds, faust.SSLCredentials)
    assert isinstance(creds.context, ssl.SSLContext)
    assert creds.protocol.value == "SSL"


@pytest.mark.parametrize(
    ("env", "variable", "says"),
    [
        ({"ORDERMON_KAFKA_SECURITY_PROTOCOL": "TLS"}, "ORDERMON_KAFKA_SECURITY_PROTOCOL", "SSL"),
        (sasl_env(ORDERMON_KAFKA_SASL_MECHANISM="MD5"), "ORDERMON_KAFKA_SASL_MECHANISM", "SCRAM"),
        (
            {**sasl_env(), "ORDERMON_KAFKA_USERNAME": ""},
            "ORDERMON_KAFKA_USERNAME",
            "required with ORDERMON_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT",
        ),
        (
            {"ORDERMON_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "ORDERMON_KAFKA_USERNAME": "u"},
            "ORDERMON_KAFKA_PASSWORD",
            "required",
        ),
        (
            {"ORDERMON_KAFKA_CA_FILE": "/nonexistent/ca.pem"},
            "ORDERMON_KAFKA_CA_FILE",
            "/nonexistent/ca.pem",
        ),
        (
            {"ORDERMON_KAFKA_CERT_FILE": "/nonexistent/c.pem"},
            "ORDERMON_KAFKA_CERT_FILE",
            "no readable file",
        ),
        ({"ORDERMON_KAFKA_KEY_FILE": "/nonexistent/k.pem"}, "ORDERMON_KAFKA_KEY_FILE", "no"),
    ],
)
def test_bad_security_settings_name_the_variable(
    env: dict[str, str], variable: str, says: str
) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert err.value.variable == variable
    assert says in str(err.value)
    assert SECRET not in str(err.value)


def test_a_certificate_without_its_key_is_refused(pki: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"ORDERMON_KAFKA_CERT_FILE": pki["cert"]})
    assert err.value.variable == "ORDERMON_KAFKA_KEY_FILE"


def test_the_password_is_redacted_and_never_printed() -> None:
    s = Settings.from_env(sasl_env())
    assert s.redacted()["kafka_password"] == "***"
    assert SECRET not in repr(s.redacted())
    out = subprocess.run(
        [sys.executable, "-m", "ordermon", "settings"],
        env={"PATH": "/usr/bin:/bin", **sasl_env()},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ORDERMON_KAFKA_PASSWORD" in out.stdout
    assert SECRET not in out.stdout + out.stderr


def test_the_web_routes_bind_to_loopback_unless_configured() -> None:
    s = Settings.from_env({})
    options = faust_options(s)
    assert options["web_bind"] == "127.0.0.1"
    assert str(options["canonical_url"]) == "http://127.0.0.1:6066"
    everywhere = Settings.from_env({"ORDERMON_WEB_HOST": "0.0.0.0", "ORDERMON_WEB_PORT": "7001"})
    assert faust_options(everywhere)["canonical_url"] == "http://127.0.0.1:7001"
    named = Settings.from_env({"ORDERMON_WEB_URL": "http://worker-3.internal:6066/"})
    assert faust_options(named)["canonical_url"] == "http://worker-3.internal:6066"
