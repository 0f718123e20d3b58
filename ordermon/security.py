"""Kafka TLS and SASL: Settings -> what aiokafka clients and Faust take.

One place maps ``ORDERMON_KAFKA_SECURITY_PROTOCOL`` and its companions to

- `client_options(settings)`: keyword arguments of aiokafka's clients (AIOKafkaProducer,
  AIOKafkaConsumer, AIOKafkaAdminClient): ``security_protocol``, ``ssl_context``,
  ``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password``;
- `broker_credentials(settings)`: Faust's ``broker_credentials`` (`faust.SSLCredentials` or
  `faust.SASLCredentials`), or None for PLAINTEXT.

The password only ever travels inside these objects; nothing here logs it."""

from __future__ import annotations

import ssl
from typing import Any

from ordermon.config import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context (server certificate and host name checked) for SSL and SASL_SSL:
    the CA file when set (else the system's CAs) and the client certificate for mutual TLS."""
    if not settings.uses_tls:
        return None
    context = ssl.create_default_context(
        purpose=ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ca_file
    )
    if settings.kafka_cert_file and settings.kafka_key_file:
        context.load_cert_chain(settings.kafka_cert_file, settings.kafka_key_file)
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's producer, consumer and admin client."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_username
        options["sasl_plain_password"] = settings.kafka_password
    return options


def broker_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials`` for the settings; None for PLAINTEXT."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=settings.kafka_username,
        password=settings.kafka_password,
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )
